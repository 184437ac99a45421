// Pure: what a dataset may be called, and where a named dataset lives in the workspace.
import { DatasetRequestError } from './request-error.js';

/** The folder every dataset lives in, relative to the workspace. */
export const DATASETS_DIR = 'datasets';

export const MAX_NAME_CHARS = 64;

/**
 * ASCII letters and digits, `_`, `-`, and CJK (Han, kana, Hangul): names that are one safe path segment on every
 * file system and that read the same in a URL, a shell and a YAML config.
 */
const NAME_PATTERN = /^[A-Za-z0-9_\-\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+$/u;

export function isDatasetName(name: string): boolean {
  return [...name].length <= MAX_NAME_CHARS && NAME_PATTERN.test(name);
}

/** `name` when it is a valid dataset name, else a 400 naming the field. */
export function checkDatasetName(name: string, field = 'name'): string {
  if (isDatasetName(name)) return name;
  const why =
    name === ''
      ? 'is empty'
      : [...name].length > MAX_NAME_CHARS
        ? `has ${[...name].length} characters, more than ${MAX_NAME_CHARS}`
        : 'may hold only letters, digits, `_`, `-` and CJK characters';
  throw new DatasetRequestError(400, `dataset name ${JSON.stringify(name)} ${why}`, {
    code: 'dataset_name_invalid',
    culprit: field,
    hint: 'name it like `jiangnan_style` or `江南-2`',
    field,
  });
}

/** `datasets/<name>`: the workspace-relative folder of a dataset. */
export function datasetPath(name: string): string {
  return `${DATASETS_DIR}/${name}`;
}

/** The dataset a workspace-relative path names (`datasets/x`, `./datasets/x/`), or null when it names none. */
export function datasetNameOfPath(path: string): string | null {
  const segments = path.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.length !== 2 || segments[0] !== DATASETS_DIR) return null;
  return isDatasetName(segments[1]!) ? segments[1]! : null;
}

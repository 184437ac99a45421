// "Continue this style on new pictures" (pure): the train config that starts from a version's LoRA (`init_lora`).
import { LibraryError } from './library-error.js';
import type { StyleVersion } from './types.js';

/** What the caller gives: the new pictures and any train config keys (checked later by train's own schema). */
export interface ContinueInput {
  train_data_dir: string;
  [key: string]: unknown;
}

/**
 * `init_lora` is the version's library copy, so later edits of the file it was added from change nothing. The base
 * model, output folder and name default to the version's base model, `output/library/<style>/from-v<N>-<stamp>` and
 * the style name; any other key is the caller's.
 */
export function continuationTrainConfig(
  version: StyleVersion,
  input: ContinueInput,
  at: Date,
): Record<string, unknown> {
  if ('init_lora' in input) {
    throw new LibraryError('`init_lora` is the version being continued; it cannot be given', {
      code: 'invalid_continuation',
      culprit: 'init_lora',
      hint: 'leave `init_lora` out: the promoted version is the starting point',
    });
  }
  const base_model = input.base_model ?? version.base_model;
  if (base_model === null || base_model === undefined) {
    throw new LibraryError(`version ${version.version} does not record its base model`, {
      code: 'invalid_continuation',
      culprit: 'base_model',
      hint: 'give `base_model`, the checkpoint the style was trained on',
    });
  }
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '');
  return {
    output_dir: `output/library/${version.style}/from-v${version.version}-${stamp}`,
    output_name: version.style,
    ...input,
    base_model,
    init_lora: version.lora_path,
  };
}

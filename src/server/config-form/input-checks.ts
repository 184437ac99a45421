// The pre-flight's checks of what a config points at, as `train` checks them before it starts: paths confined to the
// workspace and present, the base model's header, the pictures read and put through `prepare`'s rules. The shell.
import { existsSync, statSync } from 'node:fs';
import { inspectCheckpoint, requireBaseModel, type CheckpointVerdict } from '../../checkpoint/index.js';
import {
  CONFIG_KEYS,
  isFile,
  looksLikeHubId,
  metaOf,
  type ParsedConfig,
  RESUME_KEYWORDS,
  type ResolvedConfig,
} from '../../config/index.js';
import { type Finding, type MeasuredItem, namedFew, trainingFindings } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { LoraScriptsError } from '../../errors.js';
import { BASE_MODEL_LORA_HINT, readParentLora, readTrainingSets } from '../../train/index.js';
import { resolveInWorkspace } from '../security/index.js';
import { addProblem, type Findings } from './preflight-findings.js';

const PATH_KEYS = CONFIG_KEYS.filter((key) => metaOf(key).isPath);

const DATASET_IMAGES_NAMED = 3;

/**
 * Each path made absolute inside the workspace, or a problem naming the key; as the train job's own config does
 * (server/runner/train-config.ts confinePaths), but one problem per key instead of the first thrown.
 */
export function confinePaths(config: ParsedConfig, workspace: string, found: Findings): ParsedConfig {
  const context = { cwd: workspace, isFile };
  const confined: Record<string, unknown> = { ...config };
  const keys: (keyof ParsedConfig)[] = [...PATH_KEYS];
  if (config.resume !== null && !RESUME_KEYWORDS.includes(config.resume)) keys.push('resume');
  for (const key of keys) {
    const value = config[key];
    if (typeof value !== 'string' || found.skipped.has(key)) continue;
    // A hub id (`owner/model`) is downloaded, not read from the workspace.
    if (key === 'base_model' && looksLikeHubId(value, context)) continue;
    try {
      confined[key] = resolveInWorkspace(workspace, value);
    } catch (error) {
      if (!(error instanceof LoraScriptsError)) throw error;
      addProblem(found, key, {
        code: error.code,
        message: `\`${key}\`: ${error.line}`,
        hint: 'give a path relative to the workspace, inside it',
      });
    }
  }
  return confined as ParsedConfig;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The paths `train` reads before it starts (config/load.ts checkPaths), named as the config gave them. */
export function checkPathsExist(paths: ParsedConfig, given: Readonly<Record<string, unknown>>, found: Findings): void {
  const expect = (key: keyof ParsedConfig, kind: 'folder' | 'file', hint: string) => {
    const path = paths[key];
    if (typeof path !== 'string' || found.skipped.has(key)) return;
    if (kind === 'folder' ? isFolder(path) : isFile(path)) return;
    const what = existsSync(path) ? `is not a ${kind}` : 'does not exist in the workspace';
    addProblem(found, key, { code: 'path_missing', message: `\`${key}\`: \`${String(given[key])}\` ${what}`, hint });
  };
  expect('train_data_dir', 'folder', 'create the dataset folder and upload pictures to it, or fix the path');
  expect('metadata_path', 'file', 'fix the path, or remove `metadata_path` to read `.txt` captions beside the images');
  expect('init_lora', 'file', 'point `init_lora` at the `.safetensors` LoRA to continue');
  expect(
    'validation_dir',
    'folder',
    'fix the path, or use `validation_split: 0.1` to hold out part of `train_data_dir` instead',
  );
}

/** The base model's header, judged as every command does first; a hub id is only known after its download. */
export function judgeBaseModel(
  paths: ParsedConfig,
  given: Readonly<Record<string, unknown>>,
  found: Findings,
): CheckpointVerdict | null {
  if (found.skipped.has('base_model')) return null;
  const shown = `\`base_model\` \`${String(given.base_model)}\``;
  try {
    const verdict = inspectCheckpoint(paths.base_model, { culprit: 'base_model' });
    if (verdict.layout === 'hub-id') {
      addProblem(
        found,
        'base_model',
        {
          code: 'base_model_not_checked',
          message: `${shown} is a hub id: it is downloaded when training starts, so it cannot be checked now`,
          hint: 'download it into the workspace first to have it checked here and to train without network',
        },
        false,
      );
      return verdict;
    }
    return requireBaseModel(verdict, { culprit: 'base_model', loraHint: BASE_MODEL_LORA_HINT });
  } catch (error) {
    if (!(error instanceof LoraScriptsError)) throw error;
    addProblem(found, 'base_model', {
      code: error.code,
      message: `${shown}: ${error.message}`,
      hint: error.hint ?? 'give a .safetensors checkpoint, a diffusers folder or a hub id',
    });
    return null;
  }
}

/** The config key an error's culprit names, or the dataset folder's key for a picture or a caption file. */
function fieldOfCulprit(culprit: string | undefined): string {
  return culprit !== undefined && (CONFIG_KEYS as readonly string[]).includes(culprit) ? culprit : 'train_data_dir';
}

/** The training and held-out pictures, read and decoded as `train` reads them; null when they cannot be. */
export async function readPictures(
  config: ResolvedConfig,
  found: Findings,
  strip: (text: string) => string,
): Promise<MeasuredItem[] | null> {
  if (['train_data_dir', 'metadata_path', 'validation_dir'].some((key) => found.skipped.has(key))) return null;
  try {
    return (await readTrainingSets(config)).items;
  } catch (error) {
    const known = error instanceof LoraScriptsError;
    const culprit = known ? error.culprit : undefined;
    const field = fieldOfCulprit(culprit);
    const where = culprit !== undefined && culprit !== field ? `\`${strip(culprit)}\`: ` : '';
    const message = error instanceof Error ? error.message : String(error);
    addProblem(found, field, {
      code: known ? error.code : 'dataset_unreadable',
      message: `${where}${strip(message)}`,
      hint: strip((known ? error.hint : undefined) ?? 'check that the dataset folder and its files can be read'),
    });
    return null;
  }
}

/** `prepare`'s rules as `train` runs them, one problem per rule: blocking ones stop `train`, the rest it warns about. */
export function checkPictures(items: readonly MeasuredItem[], config: ResolvedConfig, found: Findings): void {
  const findings = trainingFindings(items, {
    dataDir: config.train_data_dir,
    resolutionPx: config.resolution,
    tokenizerDir: CLIP_TOKENIZER_DIR,
  });
  const byRule = new Map<string, Finding[]>();
  for (const finding of findings) byRule.set(finding.rule, [...(byRule.get(finding.rule) ?? []), finding]);
  for (const [rule, list] of byRule) {
    const first = list[0]!;
    const images = namedFew(
      list.map((finding) => finding.image),
      DATASET_IMAGES_NAMED,
    );
    const count = `${list.length} of ${items.length} pictures`;
    const isBlocking = list.some((finding) => finding.severity === 'block');
    addProblem(
      found,
      'train_data_dir',
      {
        // `train` names a blocking rule's error this way (dataset/train-check.ts).
        code: `dataset_${rule.replaceAll('-', '_')}`,
        message: `${count}: ${first.message} (${images})`,
        hint: first.hint,
      },
      isBlocking,
    );
  }
}

/** The LoRA `init_lora` continues, read as `train` reads it before it starts: a plain kohya or diffusers LoRA. */
export async function checkInitLora(
  paths: ParsedConfig,
  given: Readonly<Record<string, unknown>>,
  found: Findings,
): Promise<void> {
  if (paths.init_lora === null || found.skipped.has('init_lora')) return;
  try {
    await readParentLora(paths.init_lora);
  } catch (error) {
    if (!(error instanceof LoraScriptsError)) throw error;
    addProblem(found, 'init_lora', {
      code: error.code,
      message: `\`${String(given.init_lora)}\`: ${error.message}`,
      hint: error.hint ?? 'point `init_lora` at a LoRA `.safetensors` file',
    });
  }
}

// The pre-flight of the config form: what `train --config` checks before it starts, run without training, every
// problem listed instead of the first thrown, `auto` values with their reasons, and the run's size for this device.
// The shell: it reads the workspace (paths, the base model's header, the pictures) and asks the engine for the device.
import { existsSync, realpathSync, statSync } from 'node:fs';
import { inspectCheckpoint, requireBaseModel, type CheckpointVerdict } from '../../checkpoint/index.js';
import {
  AUTO_KEYS,
  type AutoKey,
  type AutoValues,
  autoKeysOf,
  CONFIG_KEYS,
  configSchema,
  isFile,
  looksLikeHubId,
  metaOf,
  type ParsedConfig,
  RESUME_KEYWORDS,
  type ResolvedConfig,
  resolveConfig,
} from '../../config/index.js';
import { type Finding, type MeasuredItem, namedFew, trainingFindings } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { LoraScriptsError } from '../../errors.js';
import type { JobStore } from '../../store/index.js';
import {
  BASE_MODEL_LORA_HINT,
  type DeviceFacts,
  measureDataset,
  readTrainingSets,
  recommendTraining,
  trainingBuckets,
} from '../../train/index.js';
import { resolveInWorkspace } from '../security/index.js';
import { checkConfigValues, type ConfigProblem } from './config-problems.js';
import type { DetectDevice } from './device.js';
import {
  countTrainingSteps,
  describeDevice,
  estimateMemoryMiB,
  estimateSeconds,
  picturesPerSize,
  type StepTimeBasis,
  type StepTimeSetup,
} from './estimate.js';
import { checkOutputFolder } from './output-check.js';
import { findStepTimeBasis } from './step-time-basis.js';

export interface AutoValue {
  key: AutoKey;
  value: number;
  reason: string;
}

export interface RunEstimate {
  /** Optimizer steps, counted as the engine counts them; null when the pictures or the batch size are not known. */
  steps: number | null;
  /** null: the project has no measured step time to base seconds on. */
  seconds: number | null;
  memory_mib: number | null;
  device: string;
  /** What each figure rests on, or why it is null. */
  notes: string[];
}

export interface PreflightReport {
  /** No blocking problem: `train` would start with this config. */
  ok: boolean;
  problems: ConfigProblem[];
  auto: AutoValue[];
  estimate: RunEstimate;
}

export interface PreflightOptions {
  /** Absolute; every path in the config is relative to it and must stay inside it. */
  workspace: string;
  detectDevice: DetectDevice;
  /** Past train jobs, whose timed steps are the basis for `seconds`; without it there is none. */
  store?: JobStore;
}

const PATH_KEYS = CONFIG_KEYS.filter((key) => metaOf(key).isPath);
/** `auto` keys whose recommendation depends on the device (the learning rate follows the recommended batch size). */
const DEVICE_AUTO_KEYS: readonly AutoKey[] = ['batch_size', 'learning_rate'];
const DATASET_IMAGES_NAMED = 3;

/** What one run of the pre-flight has found so far; a key in `skipped` has a problem, so later checks leave it. */
interface Findings {
  problems: ConfigProblem[];
  skipped: Set<string>;
}

/** Never throws for a config: whatever goes wrong becomes a problem in the report. */
export async function preflightConfig(
  config: Readonly<Record<string, unknown>>,
  options: PreflightOptions,
): Promise<PreflightReport> {
  try {
    return await runPreflight(config, options);
  } catch (error) {
    // A check failing in a way none of them expects: still an answer the form can show, never a 500.
    const strip = workspaceStripper(options.workspace);
    const why = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    const problem: ConfigProblem = {
      field: 'config',
      code: 'preflight_failed',
      message: `the pre-flight could not finish: ${strip(why)}`,
      hint: 'fix any problem it names and try again; `lora-scripts train --config` shows the full error',
      blocking: true,
    };
    return { ok: false, problems: [problem], auto: [], estimate: { ...NO_ESTIMATE, notes: [], device: 'unknown' } };
  }
}

async function runPreflight(config: Readonly<Record<string, unknown>>, options: PreflightOptions) {
  const checked = checkConfigValues(config);
  const found: Findings = { problems: [...checked.problems], skipped: new Set(checked.failedKeys) };
  const deviceAnswer = options.detectDevice();
  if (checked.config === null) {
    const device = await deviceAnswer;
    return report(found, [], { ...NO_ESTIMATE, device: describeDevice(device.facts, device.unknownReason) });
  }
  const paths = confinePaths(checked.config, options.workspace, found);
  checkPathsExist(paths, config, found);
  const verdict = judgeBaseModel(paths, config, found);
  const forReading = resolveConfig(paths, { cwd: options.workspace, isFile, autoValues: schemaDefaults() });
  const strip = workspaceStripper(options.workspace);
  const items = await readPictures(forReading, found, strip);
  if (items !== null) checkPictures(items, forReading, found);
  const { facts, unknownReason } = await deviceAnswer;
  const recommended = await recommendAutoKeys({ config: paths, verdict, items, device: facts, found, strip });
  // The config `train` would run; an `auto` value not worked out keeps its stand-in, and what needs it is left out.
  const autoValues = Object.fromEntries(recommended.map((r) => [r.key, r.value])) as AutoValues;
  const run = resolveConfig(paths, {
    cwd: options.workspace,
    isFile,
    autoValues: { ...schemaDefaults(), ...autoValues },
  });
  const isAutoKnown = (key: AutoKey) => paths[key] !== 'auto' || autoValues[key] !== undefined;
  const isRunKnown = AUTO_KEYS.every(isAutoKnown) && verdict !== null && items !== null;
  const outputKeys = ['output_dir', 'output_name', 'resume', 'init_lora', 'cache_dir'];
  if (isRunKnown && !outputKeys.some((key) => found.skipped.has(key))) {
    for (const problem of await checkOutputFolder({ config: run, items, strip }))
      addProblem(found, problem.field, problem, problem.blocking);
  }
  const estimate = await estimateRun({ run, isAutoKnown, verdict, items, device: facts, unknownReason, options });
  return report(found, recommended, estimate);
}

const NO_ESTIMATE = { steps: null, seconds: null, memory_mib: null, notes: [] as string[] };

function report(found: Findings, auto: AutoValue[], estimate: RunEstimate): PreflightReport {
  return { ok: !found.problems.some((p) => p.blocking), problems: found.problems, auto, estimate };
}

/** The schema default of each `auto` key: stands in while the pictures are read, which no `auto` value affects. */
function schemaDefaults(): AutoValues {
  return Object.fromEntries(AUTO_KEYS.map((key) => [key, configSchema.shape[key].parse(undefined)])) as AutoValues;
}

/**
 * Each path made absolute inside the workspace, or a problem naming the key; as the train job's own config does
 * (server/runner/train-config.ts confinePaths), but one problem per key instead of the first thrown.
 */
function confinePaths(config: ParsedConfig, workspace: string, found: Findings): ParsedConfig {
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

function addProblem(
  found: Findings,
  field: string,
  problem: Omit<ConfigProblem, 'field' | 'blocking'>,
  blocking = true,
) {
  found.problems.push({ field, ...problem, blocking });
  if (blocking) found.skipped.add(field);
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The paths `train` reads before it starts (config/load.ts checkPaths), named as the config gave them. */
function checkPathsExist(paths: ParsedConfig, given: Readonly<Record<string, unknown>>, found: Findings): void {
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
function judgeBaseModel(
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

/** Workspace paths in messages as the client knows them: relative, never the server's folders. */
function workspaceStripper(workspace: string): (text: string) => string {
  const roots = [workspace, safeRealpath(workspace)].map((root) => `${root.replace(/\/$/, '')}/`);
  return (text) => roots.reduce((result, root) => result.replaceAll(root, ''), text);
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The config key an error's culprit names, or the dataset folder's key for a picture or a caption file. */
function fieldOfCulprit(culprit: string | undefined): string {
  return culprit !== undefined && (CONFIG_KEYS as readonly string[]).includes(culprit) ? culprit : 'train_data_dir';
}

/** The training and held-out pictures, read and decoded as `train` reads them; null when they cannot be. */
async function readPictures(
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
function checkPictures(items: readonly MeasuredItem[], config: ResolvedConfig, found: Findings): void {
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

interface AutoInputs {
  config: ParsedConfig;
  verdict: CheckpointVerdict | null;
  items: MeasuredItem[] | null;
  device: DeviceFacts | null;
  found: Findings;
  strip: (text: string) => string;
}

/** The values `train` would put in for the keys set to `auto`, with their reasons; a problem for each it cannot. */
async function recommendAutoKeys(inputs: AutoInputs): Promise<AutoValue[]> {
  const { config, verdict, found } = inputs;
  const keys = autoKeysOf(config).filter((key) => !found.skipped.has(key));
  if (keys.length === 0) return [];
  const unresolved = (key: AutoKey, why: string) =>
    addProblem(
      found,
      key,
      {
        code: 'auto_unresolved',
        message: `\`${key}: auto\` cannot be worked out yet: ${why}`,
        hint: 'training works it out when it starts; fix the problems above to see the value here',
      },
      false,
    );
  if (inputs.items === null || verdict === null) {
    for (const key of keys) unresolved(key, 'it depends on the pictures and the base model');
    return [];
  }
  const dataset = await measureDataset(config.train_data_dir).catch(() => null);
  if (dataset === null) {
    for (const key of keys) unresolved(key, 'the pictures could not be measured');
    return [];
  }
  const isSdxl = verdict.family === null ? null : verdict.family === 'sdxl';
  const resolutionPx = config.resolution ?? verdict.nativeSizePx ?? (isSdxl ? 1024 : 512);
  // Rank and epochs do not depend on the device; without one, only they are given.
  const device: DeviceFacts = inputs.device ?? { kind: 'cpu', memoryGiB: null };
  const recommendation = recommendTraining({ dataset, device, resolutionPx, isSdxl });
  const values: AutoValue[] = [];
  for (const key of keys) {
    if (inputs.device === null && DEVICE_AUTO_KEYS.includes(key)) {
      unresolved(key, 'it depends on the device, which is not known yet');
      continue;
    }
    const reason = recommendation.reasons.find((r) => r.key === key)?.reason ?? '';
    values.push({ key, value: recommendation.values[key], reason: inputs.strip(reason) });
  }
  return values;
}

interface EstimateInputs {
  run: ResolvedConfig;
  isAutoKnown: (key: AutoKey) => boolean;
  verdict: CheckpointVerdict | null;
  items: MeasuredItem[] | null;
  device: DeviceFacts | null;
  unknownReason: string;
  options: PreflightOptions;
}

async function estimateRun(inputs: EstimateInputs): Promise<RunEstimate> {
  const { run: config, isAutoKnown: isKnown, verdict, items, device } = inputs;
  const notes: string[] = [];
  const nativePx = verdict?.nativeSizePx ?? null;
  let steps: number | null = null;
  if (items === null) notes.push('steps: unknown until the pictures can be read');
  else if (!isKnown('batch_size') || (!isKnown('epochs') && config.max_train_steps === null))
    notes.push('steps: unknown until `auto` values can be worked out');
  else {
    const bucketPx = config.resolution ?? (config.bucketing === 'off' ? null : nativePx);
    const sizes = trainingBuckets(items, {
      mode: config.bucketing,
      resolutionPx: bucketPx,
      maxUpscale: config.bucket_max_upscale,
    });
    const counted = countTrainingSteps({
      picturesPerSize: picturesPerSize(items, sizes),
      batchSize: config.batch_size,
      gradientAccumulationSteps: config.gradient_accumulation_steps,
      epochs: config.epochs,
      maxTrainSteps: config.max_train_steps,
    });
    steps = counted.totalSteps;
    notes.push(
      `steps: ${counted.stepsPerEpoch} per epoch (${items.length} pictures, batch ${config.batch_size})${config.max_train_steps === null ? ` × ${config.epochs} epochs` : `, stopped at \`max_train_steps\` ${config.max_train_steps}`}`,
    );
  }
  const seconds = estimateSeconds(steps, steps === null ? null : await stepTimeBasis(config, verdict, inputs.options));
  notes.push(seconds.note);
  const isSdxl = verdict === null || verdict.family === null ? null : verdict.family === 'sdxl';
  const resolutionPx = config.resolution ?? nativePx ?? (isSdxl ? 1024 : 512);
  const memory = !isKnown('batch_size')
    ? { value: null, note: 'memory: unknown until `batch_size: auto` can be worked out' }
    : verdict === null
      ? { value: null, note: 'memory: unknown until the base model can be read' }
      : estimateMemoryMiB({
          device,
          isSdxl,
          resolutionPx,
          batchSize: config.batch_size,
          mixedPrecision: config.mixed_precision,
          gradientCheckpointing: config.gradient_checkpointing,
        });
  notes.push(memory.note);
  return {
    steps,
    seconds: seconds.value,
    memory_mib: memory.value,
    device: describeDevice(device, inputs.unknownReason),
    notes,
  };
}

/** A past run's measured step time for this setup, when the store has one. */
async function stepTimeBasis(
  config: ResolvedConfig,
  verdict: CheckpointVerdict | null,
  options: PreflightOptions,
): Promise<StepTimeBasis | null> {
  const nativeSizePx = verdict?.nativeSizePx ?? null;
  const resolutionPx = config.resolution ?? nativeSizePx;
  if (options.store === undefined || verdict === null || resolutionPx === null) return null;
  const setup: StepTimeSetup = {
    base_model: config.base_model,
    resolution_px: resolutionPx,
    batch_size: config.batch_size,
    gradient_accumulation_steps: config.gradient_accumulation_steps,
    mixed_precision: config.mixed_precision,
    gradient_checkpointing: config.gradient_checkpointing,
    train_text_encoder: config.train_text_encoder,
    target_modules: config.target_modules,
    cache_latents: config.cache_latents,
    torch_compile: config.torch_compile,
    cpu_kernels: config.cpu_kernels,
  };
  return findStepTimeBasis(setup, { store: options.store, workspace: options.workspace, nativeSizePx });
}

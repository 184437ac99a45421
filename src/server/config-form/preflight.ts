// The pre-flight of the config form: what `train --config` checks before it starts, run without training, every
// problem listed instead of the first thrown, `auto` values with their reasons, and the run's size for this device.
// The shell: it reads the workspace (paths, the base model's header, the pictures) and asks the engine for the device.
import type { CheckpointVerdict } from '../../checkpoint/index.js';
import {
  AUTO_KEYS,
  type AutoKey,
  type AutoValues,
  autoKeysOf,
  configSchema,
  isFile,
  type ParsedConfig,
  resolveConfig,
} from '../../config/index.js';
import type { MeasuredItem } from '../../dataset/index.js';
import type { JobStore } from '../../store/index.js';
import { type DeviceFacts, measureDataset, recommendTraining } from '../../train/index.js';
import { checkConfigValues, type ConfigProblem } from './config-problems.js';
import type { DetectDevice } from './device.js';
import { describeDevice } from './estimate.js';
import {
  checkInitLora,
  checkPathsExist,
  checkPictures,
  confinePaths,
  judgeBaseModel,
  readPictures,
} from './input-checks.js';
import { checkOutputFolder } from './output-check.js';
import { addProblem, type Findings, workspaceStripper } from './preflight-findings.js';
import { estimateRun } from './run-estimate.js';

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

/** `auto` keys whose recommendation depends on the device (the learning rate follows the recommended batch size). */
const DEVICE_AUTO_KEYS: readonly AutoKey[] = ['batch_size', 'learning_rate'];

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
  await checkInitLora(paths, config, found);
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
  const recommendation = recommendTraining({
    dataset,
    device,
    resolutionPx,
    isSdxl,
    isFlux: verdict.family === 'flux',
    networkType: config.network_type,
  });
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

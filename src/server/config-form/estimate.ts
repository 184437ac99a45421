// How long and how large a run will be, from what the pre-flight read: steps exactly as the engine counts them, memory
// from the footprint `auto` batch sizes are chosen with, seconds only from a measured basis. Pure.
import { gpuTrainingFootprint, type DeviceFacts } from '../../train/index.js';

export interface StepCountInput {
  /** Pictures per epoch (folder repeats counted) for each training size: one entry per bucket, or one for squares. */
  picturesPerSize: readonly number[];
  batchSize: number;
  gradientAccumulationSteps: number;
  epochs: number;
  maxTrainSteps: number | null;
}

/**
 * The engine's own count (engine train.py, step 4 "Data"): a batch holds one size, so each size's pictures are
 * batched apart; an optimizer step takes `gradient_accumulation_steps` batches; `max_train_steps` overrides `epochs`.
 */
export function countTrainingSteps(input: StepCountInput): { stepsPerEpoch: number; totalSteps: number } {
  const batches = input.picturesPerSize.reduce((sum, count) => sum + Math.ceil(count / input.batchSize), 0);
  const stepsPerEpoch = Math.ceil(batches / input.gradientAccumulationSteps);
  return { stepsPerEpoch, totalSteps: input.maxTrainSteps ?? stepsPerEpoch * input.epochs };
}

/** Groups pictures by the size they train at (a bucket's `w×h`, or the one square size), repeats counted. */
export function picturesPerSize(
  items: readonly { repeats: number }[],
  sizes: readonly { widthPx: number; heightPx: number }[] | null,
): number[] {
  const counts = new Map<string, number>();
  items.forEach((item, index) => {
    const size = sizes?.[index];
    const name = size ? `${size.widthPx}×${size.heightPx}` : 'square';
    counts.set(name, (counts.get(name) ?? 0) + item.repeats);
  });
  return [...counts.values()];
}

export interface MemoryEstimateInput {
  device: DeviceFacts | null;
  /** null: a hub id, whose family is known only after download (SD 1.x sizes are assumed, as `auto` does). */
  isSdxl: boolean | null;
  resolutionPx: number;
  batchSize: number;
  mixedPrecision: 'auto' | 'no' | 'fp16' | 'bf16';
  gradientCheckpointing: boolean;
}

export interface Estimated {
  value: number | null;
  /** What the value rests on, or why there is none. */
  note: string;
}

/**
 * Device memory in MiB from the footprint train/recommend.ts picks `auto` batch sizes with. That footprint is for a
 * GPU at fp16/bf16 without gradient checkpointing; anywhere else the project has no figure, so there is no estimate.
 */
export function estimateMemoryMiB(input: MemoryEstimateInput): Estimated {
  const { device } = input;
  if (device === null) return { value: null, note: 'memory: unknown until the device is known' };
  if (device.kind === 'cpu') return { value: null, note: 'memory: no measured figure for training on a CPU' };
  if (input.mixedPrecision === 'no')
    return { value: null, note: 'memory: the footprint figures are for fp16/bf16, not `mixed_precision: no`' };
  const { baseGiB, perImageGiB } = gpuTrainingFootprint(input.isSdxl === true, input.resolutionPx);
  const value = Math.round((baseGiB + perImageGiB * input.batchSize) * 1024);
  const family = input.isSdxl === null ? ' (family unknown: SD 1.x sizes assumed)' : input.isSdxl ? ' (SDXL)' : '';
  const checkpointing = input.gradientCheckpointing ? '; an upper bound, since gradient checkpointing saves some' : '';
  return {
    value,
    note: `memory: the frozen model plus ${input.batchSize} × ${input.resolutionPx} px pictures${family}, the same rough footprint \`batch_size: auto\` uses${checkpointing}`,
  };
}

/** What the estimate says the device is: `cuda: NVIDIA H100 (79.1 GiB)`, `cpu`, or why it is not known. */
export function describeDevice(device: DeviceFacts | null, unknownReason: string): string {
  if (device === null) return `unknown (${unknownReason})`;
  const name = device.name ? ` ${device.name}` : '';
  const memory = device.kind !== 'cpu' && device.memoryGiB !== null ? ` (${device.memoryGiB} GiB)` : '';
  return `${device.kind}${name ? `:${name}` : ''}${memory}`;
}

/** The settings a step's time depends on: a past run with the same ones is a measurement for this one. */
export interface StepTimeSetup {
  /** Absolute path inside the workspace, or the hub id. */
  base_model: string;
  /** The training size in px (the base model's native size where the config leaves it out). */
  resolution_px: number;
  batch_size: number;
  gradient_accumulation_steps: number;
  mixed_precision: string;
  gradient_checkpointing: boolean;
  train_text_encoder: boolean;
  target_modules: readonly string[];
  cache_latents: boolean;
  torch_compile: boolean;
  cpu_kernels: string;
}

export function isSameStepTimeSetup(a: StepTimeSetup, b: StepTimeSetup): boolean {
  return (Object.keys(a) as (keyof StepTimeSetup)[]).every((key) => JSON.stringify(a[key]) === JSON.stringify(b[key]));
}

/** Steps this early include one-off work (compiling, the first cache fills); `cli/progress.ts` skips them too. */
const WARM_UP_STEPS = 2;

/** The median time of a run's steps after the warm-up, or null when it timed none of them. */
export function medianStepMs(progress: readonly { step: number; step_ms: number }[]): number | null {
  const times = progress
    .filter((p) => p.step > WARM_UP_STEPS)
    .map((p) => p.step_ms)
    .sort((a, b) => a - b);
  if (times.length === 0) return null;
  const middle = Math.floor(times.length / 2);
  return times.length % 2 === 1 ? times[middle]! : (times[middle - 1]! + times[middle]!) / 2;
}

/** A measured basis for seconds: a past run on this server with the same step-time setup. */
export interface StepTimeBasis {
  jobId: string;
  stepMs: number;
  /** How many of its steps were timed. */
  timedSteps: number;
}

export function estimateSeconds(steps: number | null, basis: StepTimeBasis | null): Estimated {
  if (steps === null) return { value: null, note: 'seconds: unknown until the steps are' };
  if (basis === null)
    return {
      value: null,
      note: 'seconds: no finished run on this server with the same base model, size, batch and speed settings to measure by',
    };
  const value = Math.round((steps * basis.stepMs) / 1000);
  return {
    value,
    note: `seconds: ${steps} steps × ${Math.round(basis.stepMs)} ms, the median step of job ${basis.jobId} (same base model, size, batch and speed settings; ${basis.timedSteps} steps timed); loading the model and caching come on top`,
  };
}

// The pre-flight's size of a run: steps as the engine counts them, seconds from a past run's timed steps, memory from
// the footprint `auto` uses; each figure null, with its reason, where it has no basis.
import type { CheckpointVerdict } from '../../checkpoint/index.js';
import type { AutoKey, ResolvedConfig } from '../../config/index.js';
import type { MeasuredItem } from '../../dataset/index.js';
import { type DeviceFacts, trainingBuckets } from '../../train/index.js';
import {
  countTrainingSteps,
  describeDevice,
  estimateMemoryMiB,
  type Estimated,
  estimateSeconds,
  picturesPerSize,
  type StepTimeBasis,
  type StepTimeSetup,
} from './estimate.js';
import type { PreflightOptions, RunEstimate } from './preflight.js';
import { findStepTimeBasis } from './step-time-basis.js';

export interface EstimateInputs {
  run: ResolvedConfig;
  isAutoKnown: (key: AutoKey) => boolean;
  verdict: CheckpointVerdict | null;
  items: MeasuredItem[] | null;
  device: DeviceFacts | null;
  unknownReason: string;
  options: PreflightOptions;
}

export async function estimateRun(inputs: EstimateInputs): Promise<RunEstimate> {
  const { run: config, isAutoKnown: isKnown, verdict, items, device } = inputs;
  const notes: string[] = [];
  const nativePx = verdict?.nativeSizePx ?? null;
  const { value: steps, note: stepsNote } =
    items === null
      ? { value: null, note: 'steps: unknown until the pictures can be read' }
      : !isKnown('batch_size') || (!isKnown('epochs') && config.max_train_steps === null)
        ? { value: null, note: 'steps: unknown until `auto` values can be worked out' }
        : countRunSteps(config, items, nativePx);
  notes.push(stepsNote);
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

/** The run's steps from the pictures, bucketed as `train` buckets them (train/run.ts), batched as the engine does. */
function countRunSteps(config: ResolvedConfig, items: MeasuredItem[], nativePx: number | null): Estimated {
  const sizes = trainingBuckets(items, {
    mode: config.bucketing,
    resolutionPx: config.resolution ?? (config.bucketing === 'off' ? null : nativePx),
    maxUpscale: config.bucket_max_upscale,
  });
  const counted = countTrainingSteps({
    picturesPerSize: picturesPerSize(items, sizes),
    batchSize: config.batch_size,
    gradientAccumulationSteps: config.gradient_accumulation_steps,
    epochs: config.epochs,
    maxTrainSteps: config.max_train_steps,
  });
  const length =
    config.max_train_steps === null
      ? ` × ${config.epochs} epochs`
      : `, stopped at \`max_train_steps\` ${config.max_train_steps}`;
  return {
    value: counted.totalSteps,
    note: `steps: ${counted.stepsPerEpoch} per epoch (${items.length} pictures, batch ${config.batch_size})${length}`,
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

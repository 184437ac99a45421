// `merge`'s whole job, for the CLI and the studio alike: the base-model pre-flight, then the streamed merge.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { mergeLorasIntoCheckpoint, mergeLorasIntoFlux, type MergeSummary } from '../lora/index.js';
import { checkBaseModel } from './read.js';

export interface MergeIntoBaseOptions {
  /** The base checkpoint as given (resolved against `cwd`); never modified. */
  base: string;
  cwd: string;
  /** Absolute LoRA paths with their weights. */
  loras: ReadonlyArray<{ path: string; weight: number }>;
  /** Absolute path of the merged checkpoint, written atomically. */
  output: string;
  /** What to do when the base turns out to be a LoRA (the CLI names its argument order, the studio its field). */
  loraHint: string;
  onTensor?: (done: number, total: number) => void;
  stopSignal?: AbortSignal;
}

/**
 * Checks the base first (a LoRA, VAE or truncated file given as the base is one line in milliseconds, before any
 * LoRA is read), then merges. Throws CheckpointError/UsageError naming the base.
 */
export async function mergeIntoBaseModel(options: MergeIntoBaseOptions): Promise<MergeSummary> {
  const verdict = checkBaseModel(options.base, { cwd: options.cwd, culprit: options.base, loraHint: options.loraHint });
  if (isFlux(verdict.family) && verdict.layout === 'diffusers-folder')
    throw new UsageError('is a diffusers Flux folder; merge writes a Flux transformer single file', {
      code: 'usage',
      culprit: options.base,
      hint: 'merge into the BFL transformer file (flux1-dev.safetensors), or load the LoRA with FluxPipeline.load_lora_weights + fuse_lora',
    });
  if (isFlux(verdict.family)) return mergeLorasIntoFlux(mergeOptions(options));
  if (verdict.layout !== 'single-file' || verdict.family === null)
    throw new UsageError('merge writes single-file checkpoints, so its base must be one `.safetensors` file', {
      code: 'usage',
      culprit: options.base,
      hint: 'merge into the single-file version of this model',
    });
  return mergeLorasIntoCheckpoint({ ...mergeOptions(options), baseFamily: verdict.family });
}

/** Flux bases merge through flux-merge.ts (BFL names), the SD families through checkpoint-targets.ts. */
function isFlux(family: string | null): family is 'flux' {
  return family === 'flux';
}

function mergeOptions(options: MergeIntoBaseOptions) {
  return {
    base: resolve(options.cwd, options.base),
    loras: options.loras,
    output: options.output,
    ...(options.onTensor ? { onTensor: options.onTensor } : {}),
    ...(options.stopSignal ? { stopSignal: options.stopSignal } : {}),
  };
}

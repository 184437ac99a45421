// Training settings recommended from the dataset and the device, pure: every value comes with its reason.
// Applied only to config keys set to `auto` (config/resolve.ts); `lora-scripts recommend` prints them all.
import type { AutoKey } from '../config/index.js';

export interface DatasetStats {
  /** Distinct pictures. */
  images: number;
  /** Pictures per epoch, kohya `N_name` folder repeats included. */
  imagesPerEpoch: number;
  /** Median edge density of the pictures, 0–1 (flat colour ≈ 0.01, a detailed painting ≈ 0.2). */
  detail: number;
}

export interface DeviceFacts {
  kind: 'cuda' | 'mps' | 'cpu';
  /** GPU memory (CUDA), or the machine's memory (MPS shares it); null when unknown. */
  memoryGiB: number | null;
  name?: string | null;
}

export interface RecommendInput {
  dataset: DatasetStats;
  device: DeviceFacts;
  resolutionPx: number;
  /** SDXL needs about 3× the memory of SD 1.x/2.x; null when the base model's family is unknown. */
  isSdxl: boolean | null;
  /** `network_type`: a LoHa learns about as much at half the rank (its two pairs multiply); the rest as a LoRA. */
  networkType?: string;
  /** A Flux.1 base: a 12 B transformer, with its own rank, rate and memory advice (docs/formats/flux.md §6). */
  isFlux?: boolean;
}

export interface RecommendedValue {
  /** A key the config may set to `auto`, or advice only: kohya folder `repeats`, SDXL's `text_encoder_2_lr`. */
  key: AutoKey | AdviceKey;
  value: number;
  reason: string;
}

type AdviceKey = 'repeats' | 'text_encoder_2_lr';
const ADVICE_KEYS: readonly string[] = ['repeats', 'text_encoder_2_lr'] satisfies AdviceKey[];

export interface Recommendation {
  values: Record<AutoKey, number>;
  /** kohya folder repeats: advice only (a folder name, not a config key). */
  repeats: number;
  reasons: RecommendedValue[];
}

// Edge density (mean brightness step between neighbours at 128 px, 0–1) above which pictures count as a detailed
// style rather than a simple motif. Measured: the demo's drawn jiangnan scenes 0.04, flat-colour shapes under 0.02;
// textured photos and ink or line-art illustrations sit well above 0.06.
export const DETAILED_FROM = 0.06;

export function isDetailed(stats: DatasetStats): boolean {
  return stats.detail >= DETAILED_FROM;
}

function recommendRank(stats: DatasetStats): RecommendedValue {
  const detail = `detail ${stats.detail.toFixed(2)}`;
  if (isDetailed(stats)) {
    const value = stats.images >= 100 ? 16 : 12;
    return {
      key: 'lora_rank',
      value,
      reason: `detailed pictures (${detail} ≥ ${DETAILED_FROM}): 12–16 holds a detailed style${value === 12 ? '; 12 with under 100 pictures, so it memorises less' : ''}`,
    };
  }
  const value = stats.images < 30 ? 4 : 8;
  return {
    key: 'lora_rank',
    value,
    reason: `simple motifs (${detail} < ${DETAILED_FROM}): 4–8 is enough${value === 4 ? '; 4 with under 30 pictures, so it memorises less' : ''}`,
  };
}

function recommendEpochs(stats: DatasetStats): RecommendedValue {
  const n = stats.imagesPerEpoch;
  if (n < 100)
    return {
      key: 'epochs',
      value: 20,
      reason: `${n} pictures per epoch (under 100): 20 epochs, about ${20 * n} picture views`,
    };
  if (n < 200)
    return {
      key: 'epochs',
      value: 15,
      reason: `${n} pictures per epoch (100–200): 15 epochs, about ${15 * n} picture views`,
    };
  const value = Math.max(5, Math.min(15, Math.round(3000 / n)));
  return {
    key: 'epochs',
    value,
    reason: `${n} pictures per epoch: ${value} epochs give about 3,000 picture views, enough for a style`,
  };
}

function recommendRepeats(stats: DatasetStats): RecommendedValue {
  // Under 20 pictures an epoch is a handful of steps: samples and the overfitting check per epoch say little.
  const value = stats.images < 20 ? Math.ceil(20 / stats.images) : 1;
  const reason =
    value > 1
      ? `only ${stats.images} pictures: put them in a folder named \`${value}_name\` so an epoch sees each ${value} times (or keep 1 and raise \`epochs\`)`
      : `${stats.images} pictures are enough per epoch without repeating them`;
  return { key: 'repeats', value, reason };
}

/** Largest power of two ≤ value (batch sizes that divide memory and data evenly). */
function powerOfTwoBelow(value: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, value)));
}

/**
 * Rough LoRA-training footprint on a GPU (fp16/bf16, no gradient checkpointing): the frozen model, plus activations
 * that grow with the pixel count. SDXL's UNet and two text encoders take about 3× SD 1.5's. The studio's pre-flight
 * estimates memory with the same figures.
 */
export function gpuTrainingFootprint(isSdxl: boolean, resolutionPx: number): { baseGiB: number; perImageGiB: number } {
  return {
    baseGiB: isSdxl ? 10 : 4,
    perImageGiB: (isSdxl ? 4 : 1.5) * (resolutionPx / (isSdxl ? 1024 : 512)) ** 2,
  };
}

function recommendBatchSize(input: RecommendInput): RecommendedValue {
  const { device, resolutionPx, dataset } = input;
  if (device.kind === 'cpu')
    return {
      key: 'batch_size',
      value: 1,
      reason: 'no GPU: a larger batch is not faster per picture on a CPU, and 1 keeps each step short',
    };
  if (device.memoryGiB === null)
    return { key: 'batch_size', value: 1, reason: `${device.kind} with unknown memory: 1 is safe` };
  const sdxl = input.isSdxl === true;
  const { baseGiB, perImageGiB } = gpuTrainingFootprint(sdxl, resolutionPx);
  const fits = Math.floor((device.memoryGiB * 0.85 - baseGiB) / perImageGiB);
  const byData = Math.max(1, Math.floor(dataset.imagesPerEpoch / 4)); // at least 4 steps per epoch
  const value = Math.min(8, powerOfTwoBelow(Math.min(Math.max(1, fits), byData)));
  const memory = `${device.memoryGiB} GiB ${device.kind === 'mps' ? 'shared' : 'GPU'} memory at ${resolutionPx} px${input.isSdxl === null ? ' (base model family unknown: SD 1.x sizes assumed)' : sdxl ? ' (SDXL)' : ''}`;
  return {
    key: 'batch_size',
    value,
    reason: `${memory} fits about ${Math.max(1, fits)} pictures per step; ${value} keeps at least 4 steps per epoch and at most 8 per step`,
  };
}

function recommendLearningRate(batchSize: number): RecommendedValue {
  // 1e-4 is the safe rate at batch 1; a larger batch averages out noise, so the rate may grow with √batch.
  const value = Math.min(4e-4, Number((1e-4 * Math.sqrt(batchSize)).toPrecision(1)));
  return {
    key: 'learning_rate',
    value,
    reason:
      batchSize === 1
        ? '1e-4 is the safe rate at batch size 1'
        : `1e-4 at batch size 1, scaled with √${batchSize} (the batch averages out noise), at most 4e-4`,
  };
}

/** A LoHa's Hadamard product of two rank-r pairs reaches rank r², so half the LoRA rank holds as much. */
function forNetwork(rank: RecommendedValue, networkType: string | undefined): RecommendedValue {
  if (networkType !== 'loha') return rank;
  const value = Math.max(2, Math.round(rank.value / 2));
  return {
    ...rank,
    value,
    reason: `${rank.reason}; halved to ${value} for \`network_type: loha\` (two pairs multiplied)`,
  };
}

// Flux LoRAs: kohya's FLUX.1 README and ai-toolkit's example configs train rank 16–32 at 1e-4, batch 1.
const FLUX_RANK = 16;
const FLUX_LEARNING_RATE = 1e-4;
// bf16 transformer 23.8 GB + CLIP-L and VAE + the LoRA's AdamW state, and 1024 px activations with gradient
// checkpointing (docs/formats/flux.md §6, estimated): about 29 GB at batch 1.
const FLUX_BATCH_1_GIB = 27;

function recommendFluxRank(): RecommendedValue {
  return {
    key: 'lora_rank',
    value: FLUX_RANK,
    reason: 'Flux: kohya and ai-toolkit train Flux LoRAs at rank 16–32; 16 holds a style or a subject',
  };
}

function recommendFluxBatchSize(device: DeviceFacts): RecommendedValue {
  const memory =
    device.memoryGiB === null ? `${device.kind} with unknown memory` : `${device.memoryGiB} GiB on ${device.kind}`;
  const short = device.kind === 'cuda' && device.memoryGiB !== null && device.memoryGiB < FLUX_BATCH_1_GIB;
  return {
    key: 'batch_size',
    value: 1,
    reason: `Flux: batch 1 needs about ${FLUX_BATCH_1_GIB} GiB with \`gradient_checkpointing: true\` at 1024 px (${memory}${short ? ': too little, see docs/formats/flux.md §6' : ''})`,
  };
}

function recommendFluxLearningRate(): RecommendedValue {
  return { key: 'learning_rate', value: FLUX_LEARNING_RATE, reason: 'Flux: 1e-4, what kohya and ai-toolkit use' };
}

export function recommendTraining(input: RecommendInput): Recommendation {
  const rank = forNetwork(input.isFlux ? recommendFluxRank() : recommendRank(input.dataset), input.networkType);
  const epochs = recommendEpochs(input.dataset);
  const batch = input.isFlux ? recommendFluxBatchSize(input.device) : recommendBatchSize(input);
  const learningRate = input.isFlux ? recommendFluxLearningRate() : recommendLearningRate(batch.value);
  const repeats = recommendRepeats(input.dataset);
  return {
    values: { lora_rank: rank.value, epochs: epochs.value, batch_size: batch.value, learning_rate: learningRate.value },
    repeats: repeats.value,
    reasons: [rank, epochs, repeats, batch, learningRate, ...recommendTextEncoders(input.isSdxl)],
  };
}

/**
 * SDXL's second text encoder (OpenCLIP bigG, 695M parameters) overfits quickly and is the largest memory cost of
 * training the text encoders; kohya's SDXL guide trains at most the first. Advice: the keys have no `auto`.
 */
function recommendTextEncoders(isSdxl: boolean | null): RecommendedValue[] {
  if (isSdxl !== true) return [];
  return [
    {
      key: 'text_encoder_2_lr',
      value: 0,
      reason:
        'SDXL: keep the second text encoder (OpenCLIP bigG) frozen, or set `train_text_encoder: false`; it overfits fast and costs the most memory, so train at most the first (`text_encoder_lr` about a tenth of `learning_rate`), see docs/sdxl.md',
    },
  ];
}

/** `lora_rank: 8   (auto: applied) simple motifs …` — one line per value; `applied` marks keys the config left to `auto`. */
export function formatRecommendation(
  recommendation: Recommendation,
  applied: readonly string[],
  isOnlyApplied = false,
): string[] {
  const shown = isOnlyApplied ? recommendation.reasons.filter((r) => applied.includes(r.key)) : recommendation.reasons;
  return shown.map((r) => {
    const status = ADVICE_KEYS.includes(r.key)
      ? 'advice'
      : applied.includes(r.key)
        ? 'auto: applied'
        : 'not `auto`: kept';
    return `${`${r.key}: ${r.value}`.padEnd(22)} (${status}) ${r.reason}`;
  });
}

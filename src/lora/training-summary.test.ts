// The `ss_*` summary `inspect` prints: what the run did (optimizer, precision) read back as sd-scripts wrote it.
import { describe, expect, it } from 'vitest';
import { formatInspectReport } from './inspect-text.js';
import { inspectLora } from './inspect.js';
import { buildKohyaMetadata, kohyaMixedPrecision, kohyaOptimizer } from './kohya-metadata.js';
import type { TensorInfo } from './safetensors.js';
import { summarizeTraining } from './training-summary.js';

const RUN = {
  outputName: 'jiangnan',
  sessionId: 1,
  trainingStartedAt: 1717171717,
  trainingFinishedAt: 1717171777,
  utcOffsetMinutes: 0,
  toolVersion: '0.1.0',
  family: 'sd1',
  predictionType: 'epsilon',
  baseModelName: 'demo-sd1.safetensors',
  networkDim: 8,
  networkAlpha: 16,
  learningRate: 1e-4,
  unetLr: 1e-4,
  textEncoderLr: null,
  lrScheduler: 'constant',
  lrWarmupSteps: 0,
  gradientAccumulationSteps: 1,
  seed: 0,
  numBatchesPerEpoch: 6,
  numEpochs: 4,
  maxTrainSteps: 24,
  epoch: 4,
  steps: 24,
  batchSize: 4,
  resolution: 64,
  datasetDirs: { data: { n_repeats: 1, img_count: 24 } },
  tagFrequency: {},
  shuffleCaption: false,
  keepTokens: 0,
  captionDropoutRate: 0,
} as const;

describe('summarizeTraining', () => {
  it('reads back the optimizer and the precision the run used', () => {
    const metadata = buildKohyaMetadata({
      ...RUN,
      optimizer: kohyaOptimizer('adamw8bit', 0.01),
      mixedPrecision: kohyaMixedPrecision('bfloat16'),
    });
    const summary = summarizeTraining(metadata, []);
    expect(summary).toMatchObject({
      optimizer: 'bitsandbytes.optim.adamw.AdamW8bit(weight_decay=0.01)',
      mixedPrecision: 'bf16',
    });
  });

  it('reads `None` and absent keys as unknown', () => {
    expect(summarizeTraining({ ss_output_name: 'x', ss_mixed_precision: 'None' }, [])).toMatchObject({
      mixedPrecision: null,
      optimizer: null,
    });
  });

  it("prints kohya's `no` as the fp32 it means", () => {
    const metadata = buildKohyaMetadata({
      ...RUN,
      optimizer: kohyaOptimizer('adamw', 0.01),
      mixedPrecision: kohyaMixedPrecision('float32'),
    });
    const shapes = { 'lora_unet_a_proj_in.lora_down.weight': [8, 32], 'lora_unet_a_proj_in.lora_up.weight': [32, 8] };
    const tensors = new Map<string, TensorInfo>(
      Object.entries(shapes).map(([name, shape]) => [name, { dtype: 'F16', shape, dataOffsets: [0, 0] }]),
    );
    const text = formatInspectReport(
      inspectLora({ fileName: 'x.safetensors', sizeBytes: 1, metadata, tensors, alphas: new Map() }),
    );
    expect(text).toContain('torch.optim.adamw.AdamW(weight_decay=0.01), constant, computed in fp32');
  });
});

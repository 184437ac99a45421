// The run's size: steps counted as the engine counts them, memory only where the project has a footprint for it.
import { describe, expect, it } from 'vitest';
import {
  countTrainingSteps,
  describeDevice,
  estimateMemoryMiB,
  estimateSeconds,
  medianStepMs,
  picturesPerSize,
} from './estimate.js';

const GPU = { kind: 'cuda' as const, memoryGiB: 24, name: 'RTX 4090' };

describe('countTrainingSteps', () => {
  it('batches each training size apart, then divides by the accumulation steps', () => {
    // 10 squares at batch 4: 3 batches; with 3 + 5 in two buckets: 1 + 2 = 3 batches; 5 batches / 2 → 3 steps.
    expect(
      countTrainingSteps({
        picturesPerSize: [10],
        batchSize: 4,
        gradientAccumulationSteps: 1,
        epochs: 5,
        maxTrainSteps: null,
      }),
    ).toEqual({ stepsPerEpoch: 3, totalSteps: 15 });
    expect(
      countTrainingSteps({
        picturesPerSize: [3, 5],
        batchSize: 4,
        gradientAccumulationSteps: 1,
        epochs: 2,
        maxTrainSteps: null,
      }).totalSteps,
    ).toBe(6);
    expect(
      countTrainingSteps({
        picturesPerSize: [3, 5, 9],
        batchSize: 4,
        gradientAccumulationSteps: 2,
        epochs: 1,
        maxTrainSteps: null,
      }),
    ).toEqual({ stepsPerEpoch: 3, totalSteps: 3 });
  });

  it('lets `max_train_steps` decide over `epochs`', () => {
    expect(
      countTrainingSteps({
        picturesPerSize: [10],
        batchSize: 1,
        gradientAccumulationSteps: 1,
        epochs: 100,
        maxTrainSteps: 7,
      }).totalSteps,
    ).toBe(7);
  });
});

describe('picturesPerSize', () => {
  it('counts folder repeats, one group for squares or one per bucket size', () => {
    const items = [{ repeats: 2 }, { repeats: 1 }, { repeats: 3 }];
    expect(picturesPerSize(items, null)).toEqual([6]);
    const wide = { widthPx: 576, heightPx: 448 };
    const square = { widthPx: 512, heightPx: 512 };
    expect(picturesPerSize(items, [wide, square, { ...wide }])).toEqual([5, 1]);
  });
});

describe('estimateMemoryMiB', () => {
  const input = {
    device: GPU,
    isSdxl: false,
    resolutionPx: 512,
    batchSize: 2,
    mixedPrecision: 'auto' as const,
    gradientCheckpointing: false,
  };

  it("uses recommend's GPU footprint: 4 GiB for an SD 1.x model plus 1.5 GiB per 512 px picture", () => {
    expect(estimateMemoryMiB(input).value).toBe(7 * 1024);
    expect(estimateMemoryMiB({ ...input, isSdxl: true, resolutionPx: 1024, batchSize: 1 }).value).toBe(14 * 1024);
    expect(estimateMemoryMiB({ ...input, gradientCheckpointing: true }).note).toContain('upper bound');
  });

  it('gives no figure where the project has none: a CPU, fp32, an unknown device', () => {
    expect(estimateMemoryMiB({ ...input, device: { kind: 'cpu', memoryGiB: 64 } })).toMatchObject({ value: null });
    expect(estimateMemoryMiB({ ...input, mixedPrecision: 'no' })).toMatchObject({ value: null });
    expect(estimateMemoryMiB({ ...input, device: null })).toMatchObject({ value: null });
  });
});

describe('describeDevice', () => {
  it('names the device, its memory, or why it is unknown', () => {
    expect(describeDevice(GPU, '')).toBe('cuda: RTX 4090 (24 GiB)');
    expect(describeDevice({ kind: 'cpu', memoryGiB: 64 }, '')).toBe('cpu');
    expect(describeDevice(null, 'not set up')).toBe('unknown (not set up)');
  });
});

describe('medianStepMs and estimateSeconds', () => {
  it('times the steps after the warm-up only', () => {
    const progress = [5000, 4000, 300, 100, 200, 400].map((ms, i) => ({ step: i + 1, step_ms: ms }));
    expect(medianStepMs(progress)).toBe(250);
    expect(medianStepMs(progress.slice(0, 2))).toBeNull();
  });

  it('multiplies the steps by a measured step time, and gives none without one', () => {
    expect(estimateSeconds(120, { jobId: 'j1', stepMs: 250, timedSteps: 40 })).toMatchObject({ value: 30 });
    expect(estimateSeconds(120, { jobId: 'j1', stepMs: 250, timedSteps: 40 }).note).toContain('job j1');
    expect(estimateSeconds(120, null)).toMatchObject({ value: null });
    expect(estimateSeconds(null, { jobId: 'j1', stepMs: 250, timedSteps: 40 })).toMatchObject({ value: null });
  });
});

import { describe, expect, it } from 'vitest';
import { progressLine } from './progress.js';

describe('progressLine', () => {
  it('shows epoch, step, bar, smoothed loss, speed and ETA', () => {
    const event = {
      type: 'progress' as const,
      step: 40,
      total_steps: 600,
      epoch: 2,
      loss: 0.2,
      loss_smoothed: 0.113,
      lr: 1e-4,
      step_ms: 500,
    };
    expect(progressLine(event, 15, 812.5, 10)).toBe(
      'epoch 2/15 step 40/600 [>         ] loss 0.1130 1.23 it/s ETA 7:35',
    );
    expect(progressLine({ ...event, step: 600 }, 15, 500, 10)).toBe(
      'epoch 2/15 step 600/600 [=========>] loss 0.1130 2.00 it/s ETA 0:00',
    );
  });

  it('adds the achieved compute when the engine counted it: GFLOP/s below 1 TFLOP/s, TFLOP/s above', () => {
    const event = {
      type: 'progress' as const,
      step: 40,
      total_steps: 600,
      epoch: 2,
      loss: 0.2,
      loss_smoothed: 0.113,
      lr: 1e-4,
      step_ms: 500,
    };
    expect(progressLine({ ...event, tflops: 0.1874 }, 15, 500, 10)).toContain('2.00 it/s 187 GFLOP/s ETA');
    expect(progressLine({ ...event, tflops: 312.44 }, 15, 500, 10)).toContain('2.00 it/s 312.4 TFLOP/s ETA');
  });
});

import { describe, expect, it } from 'vitest';
import { createEtaEstimator } from './eta.js';

describe('createEtaEstimator', () => {
  it('gives no estimate until three steps after the warm-up step were timed', () => {
    const eta = createEtaEstimator();
    expect(eta.secondsLeft(1, 100, 9000)).toBeNull();
    expect(eta.secondsLeft(2, 100, 200)).toBeNull();
    expect(eta.secondsLeft(3, 100, 200)).toBeNull();
    // the 9-second warm-up step is not in the mean
    expect(eta.secondsLeft(4, 100, 200)).toBeCloseTo(96 * 0.2);
  });

  it('follows a change of pace over the last twenty steps and ends at zero', () => {
    const eta = createEtaEstimator();
    eta.secondsLeft(1, 60, 100);
    for (let step = 2; step <= 30; step++) eta.secondsLeft(step, 60, 100);
    let last = 0;
    for (let step = 31; step <= 50; step++) last = eta.secondsLeft(step, 60, 400) ?? -1;
    expect(last).toBeCloseTo(10 * 0.4);
    expect(eta.secondsLeft(60, 60, 400)).toBe(0);
  });
});

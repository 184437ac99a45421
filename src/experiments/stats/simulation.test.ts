// The tests' promises checked by simulation (seeded, so every run draws the same numbers): the fixed test's error
// rates at one look, its inflation when looked at daily, and the sequential test staying ≤ α under daily looks.
import { describe, expect, it } from 'vitest';
import { binomial, seededRandom } from '../simulate.js';
import { usersForLift } from './planner.js';
import { twoProportionTest } from './proportions.js';
import { confidenceSequence } from './sequential.js';

const ALPHA = 0.05;
const RUNS = 1000;
const DAYS = 30;
const USERS_PER_ARM_PER_DAY = 200;
const CTR = 0.05;

/** One A/A experiment looked at after every day: did the fixed / the sequential test ever reject, and at the end? */
function peekingRun(random: () => number, tuningUsers: number) {
  const control = { users: 0, clicks: 0 };
  const treatment = { users: 0, clicks: 0 };
  let fixedEver = false;
  let sequentialEver = false;
  let fixedAtEnd = false;
  for (let day = 1; day <= DAYS; day++) {
    for (const arm of [control, treatment]) {
      arm.users += USERS_PER_ARM_PER_DAY;
      arm.clicks += binomial(random, USERS_PER_ARM_PER_DAY, CTR);
    }
    const test = twoProportionTest(control, treatment, ALPHA);
    const look = {
      estimate: test.difference,
      standardError: test.standardError,
      totalUsers: control.users + treatment.users,
    };
    if (test.pValue < ALPHA) fixedEver = true;
    if (confidenceSequence(look, ALPHA, tuningUsers).pValue < ALPHA) sequentialEver = true;
    if (day === DAYS) fixedAtEnd = test.pValue < ALPHA;
  }
  return { fixedEver, sequentialEver, fixedAtEnd };
}

describe('no true difference (A/A), 1,000 experiments of 30 daily looks', () => {
  const random = seededRandom(17);
  const tuning = 2 * DAYS * USERS_PER_ARM_PER_DAY;
  const runs = Array.from({ length: RUNS }, () => peekingRun(random, tuning));
  const rate = (key: keyof (typeof runs)[number]) => runs.filter((run) => run[key]).length / RUNS;

  it('the sequential test, checked after every day, rejects in at most α of them', () => {
    expect(rate('sequentialEver')).toBeLessThanOrEqual(ALPHA);
  });

  it('the fixed test looked at once, at the end, rejects in 0.05 ± 0.02 of them', () => {
    expect(Math.abs(rate('fixedAtEnd') - ALPHA)).toBeLessThanOrEqual(0.02);
  });

  it('the fixed test checked daily rejects far more often than α (why the sequential test exists)', () => {
    expect(rate('fixedEver')).toBeGreaterThan(2 * ALPHA);
  });
});

describe("the planner's promise: base CTR 5 %, true lift +23 %, 80 % power", () => {
  it('at the planned users per arm the fixed test detects the lift in 80 % ± 3 % of 1,000 experiments', () => {
    const { control: users } = usersForLift({ baselineRate: CTR, relativeLift: 0.23, alpha: ALPHA, power: 0.8 });
    const random = seededRandom(23);
    let detected = 0;
    for (let run = 0; run < RUNS; run++) {
      const control = { users, clicks: binomial(random, users, CTR) };
      const treatment = { users, clicks: binomial(random, users, CTR * 1.23) };
      const test = twoProportionTest(control, treatment, ALPHA);
      if (test.pValue < ALPHA && test.difference > 0) detected++;
    }
    expect(Math.abs(detected / RUNS - 0.8)).toBeLessThanOrEqual(0.03);
  });
});

describe('binomial', () => {
  it('has the binomial mean and variance (n 1,000, p 0.05 and 0.7)', () => {
    const random = seededRandom(5);
    for (const p of [0.05, 0.7]) {
      const draws = Array.from({ length: 20_000 }, () => binomial(random, 1000, p));
      const mean = draws.reduce((sum, x) => sum + x, 0) / draws.length;
      const variance = draws.reduce((sum, x) => sum + (x - mean) ** 2, 0) / (draws.length - 1);
      expect(Math.abs(mean - 1000 * p)).toBeLessThan(0.2);
      expect(variance / (1000 * p * (1 - p))).toBeGreaterThan(0.95);
      expect(variance / (1000 * p * (1 - p))).toBeLessThan(1.05);
    }
  });
});

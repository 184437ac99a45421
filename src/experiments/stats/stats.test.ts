// The statistics against reference values computed once with scipy (pasted below; the tests do not need scipy):
//   .cache/engine-venv/bin/python src/experiments/stats/scipy-reference.py
// and against the worked example of the A/B statistics notes (A 2,500/50,000 clicks vs B 3,075/50,000).
import { describe, expect, it } from 'vitest';
import { chiSquareUpper, normalCdf, normalQuantile, twoSidedP } from './distributions.js';
import { holmAdjust } from './holm.js';
import { minimumDetectableLift, powerAt, usersForLift } from './planner.js';
import { relativeLift, twoProportionTest, wilsonInterval } from './proportions.js';
import { confidenceSequence, mixtureRho, runningConfidenceSequence } from './sequential.js';
import { sampleRatioCheck } from './srm.js';

/** |actual − expected| within `relative` of expected (tails are compared by relative error). */
function close(actual: number, expected: number, relative = 1e-9) {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * relative + 1e-15);
}

describe('distributions (scipy.stats.norm, chi2)', () => {
  it('normal CDF, tails included', () => {
    const scipy: [number, number][] = [
      [-8, 6.22096057427174e-16],
      [-3, 0.0013498980316300933],
      [-1.96, 0.024997895148220435],
      [0, 0.5],
      [0.5, 0.6914624612740131],
      [2.5, 0.9937903346742238],
    ];
    for (const [x, p] of scipy) close(normalCdf(x), p, 1e-12);
  });

  it('normal quantile', () => {
    const scipy: [number, number][] = [
      [1e-12, -7.034483825301131],
      [0.001, -3.090232306167813],
      [0.025, -1.9599639845400545],
      [0.3, -0.5244005127080409],
      [0.8, 0.8416212335729143],
      [0.975, 1.959963984540054],
      [0.999999, 4.753424308817087],
    ];
    for (const [p, x] of scipy) close(normalQuantile(p), x, 1e-12);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 15);
  });

  it('two-sided p keeps its digits far in the tail (erfc, not 1 − Φ)', () => {
    const scipy: [number, number][] = [
      [0, 1],
      [1, 0.31731050786291415],
      [2.1462, 0.031857025591751235],
      [7.92505, 2.2805455070177385e-15],
      [12, 3.552964224155306e-33],
    ];
    for (const [z, p] of scipy) close(twoSidedP(z), p, 1e-12);
  });

  it('chi-square upper tail', () => {
    const scipy: [number, number, number][] = [
      [6.3492, 1, 0.011743424331032629],
      [14.2292, 1, 0.00016183964854812],
      [3, 2, 0.22313016014842982],
      [10, 5, 0.07523524614651217],
      [40, 9, 7.598525229464264e-6],
    ];
    for (const [x, df, p] of scipy) close(chiSquareUpper(x, df), p, 1e-12);
  });
});

describe('wilsonInterval (scipy binomtest(k, n).proportion_ci(method="wilson"))', () => {
  it('matches at large n, at 0 and n clicks, and at small n', () => {
    const scipy: [number, number, [number, number]][] = [
      [2500, 50000, [0.04812399447657365, 0.05194514647015685]],
      [3075, 50000, [0.05942769523326036, 0.06363967877816482]],
      [0, 20, [0, 0.16112515805281935]],
      [3, 10, [0.10779126740630102, 0.6032218525388546]],
      [20, 20, [0.8388748419471808, 1]],
    ];
    for (const [clicks, users, [low, high]] of scipy) {
      const [lo, hi] = wilsonInterval({ users, clicks });
      close(lo, low, 1e-12);
      close(hi, high, 1e-12);
    }
  });

  it('is all of [0, 1] with no users', () => {
    expect(wilsonInterval({ users: 0, clicks: 0 })).toEqual([0, 1]);
  });
});

describe('twoProportionTest and relativeLift', () => {
  const A = { users: 50_000, clicks: 2500 };

  it('the worked example: z 7.925, p 2.28e-15, Δ CI [0.008657, 0.014343], lift 0.23 [0.16690, 0.29310]', () => {
    const test = twoProportionTest(A, { users: 50_000, clicks: 3075 });
    close(test.z, 7.92504819654626, 1e-12);
    close(test.pValue, 2.280578605486107e-15, 1e-9);
    close(test.interval[0], 0.008656798797724331, 1e-12);
    close(test.interval[1], 0.014343201202275661, 1e-12);
    const lift = relativeLift(A, { users: 50_000, clicks: 3075 })!;
    close(lift.lift, 0.23, 1e-12);
    close(lift.interval[0], 0.16689512508752086, 1e-12);
    close(lift.interval[1], 0.2931048749124791, 1e-12);
  });

  it('the borderline example: p 0.0319, lift 0.06 [0.003585, 0.116415]', () => {
    const B = { users: 50_000, clicks: 2650 };
    const test = twoProportionTest(A, B);
    close(test.z, 2.146194002581268, 1e-12);
    close(test.pValue, 0.0318575038793906, 1e-10);
    close(test.interval[0], 0.00026037975751225326, 1e-10);
    const lift = relativeLift(A, B)!;
    close(lift.interval[0], 0.003585168021965908, 1e-9);
    close(lift.interval[1], 0.11641483197803376, 1e-12);
  });

  it('a worse treatment with unequal arms: negative z, negative lift', () => {
    const test = twoProportionTest({ users: 2400, clicks: 130 }, { users: 2600, clicks: 95 });
    close(test.z, -3.0040519962304484, 1e-12);
    close(test.pValue, 0.0026640979078971063, 1e-10);
    close(test.interval[0], -0.02920472589259522, 1e-12);
    close(test.interval[1], -0.006051684363815037, 1e-12);
    const lift = relativeLift({ users: 2400, clicks: 130 }, { users: 2600, clicks: 95 })!;
    close(lift.lift, -0.3254437869822485, 1e-12);
    close(lift.interval[0], -0.4999284143983296, 1e-12);
  });

  it('no data gives p = 1 and no lift, not NaN', () => {
    const test = twoProportionTest({ users: 0, clicks: 0 }, { users: 10, clicks: 1 });
    expect(test.pValue).toBe(1);
    expect(relativeLift({ users: 100, clicks: 0 }, { users: 100, clicks: 3 })).toBeNull();
  });
});

describe('confidenceSequence (GrowthBook asymptotic CS, N* = 5000)', () => {
  it('ρ and the absolute interval of the worked example: HW 0.0048406, p 3.47e-13', () => {
    close(mixtureRho(0.05, 5000), 0.0398401, 1e-5);
    const test = twoProportionTest({ users: 50_000, clicks: 2500 }, { users: 50_000, clicks: 3075 });
    const look = { estimate: test.difference, standardError: test.standardError, totalUsers: 100_000 };
    const result = confidenceSequence(look, 0.05, 5000);
    close(result.interval[0], 0.0066594, 1e-4);
    close(result.interval[1], 0.0163406, 1e-5);
    close(result.pValue, 3.47e-13, 1e-2);
  });

  it('the relative interval: HW 0.107437 → [0.12256, 0.33744], p 1.23e-10', () => {
    const lift = relativeLift({ users: 50_000, clicks: 2500 }, { users: 50_000, clicks: 3075 })!;
    const look = { estimate: lift.lift, standardError: lift.standardError, totalUsers: 100_000 };
    const result = confidenceSequence(look, 0.05, 5000);
    close(result.interval[0], 0.12256, 1e-4);
    close(result.interval[1], 0.33744, 1e-4);
    close(result.pValue, 1.23e-10, 1e-2);
  });

  it('does not call the borderline example significant (the fixed test does): CS [−0.0016642, 0.0076642], p 1', () => {
    const test = twoProportionTest({ users: 50_000, clicks: 2500 }, { users: 50_000, clicks: 2650 });
    const look = { estimate: test.difference, standardError: test.standardError, totalUsers: 100_000 };
    const result = confidenceSequence(look, 0.05, 5000);
    close(result.interval[0], -0.0016642, 1e-4);
    close(result.interval[1], 0.0076642, 1e-4);
    expect(result.pValue).toBe(1);
    expect(test.pValue).toBeLessThan(0.05);
  });

  it('over several looks keeps the smallest p and the intersection of the intervals', () => {
    const looks = [
      { estimate: 0.02, standardError: 0.005, totalUsers: 4000 },
      { estimate: 0.004, standardError: 0.003, totalUsers: 10_000 },
    ];
    const first = confidenceSequence(looks[0]!, 0.05, 5000);
    const second = confidenceSequence(looks[1]!, 0.05, 5000);
    const running = runningConfidenceSequence(looks, 0.05, 5000);
    expect(running.pValue).toBe(Math.min(first.pValue, second.pValue));
    expect(running.interval).toEqual([
      Math.max(first.interval[0], second.interval[0]),
      Math.min(first.interval[1], second.interval[1]),
    ]);
  });
});

describe('planner', () => {
  it('users per arm (quantiles from scipy): +10 % on 5 % → 31,234; +23 % → 6,248; 2 % +5 % at α 0.01, 90 % → 597,547', () => {
    expect(usersForLift({ baselineRate: 0.05, relativeLift: 0.1, alpha: 0.05, power: 0.8 })).toEqual({
      control: 31_234,
      treatment: 31_234,
    });
    expect(usersForLift({ baselineRate: 0.05, relativeLift: 0.23, alpha: 0.05, power: 0.8 }).control).toBe(6248);
    expect(usersForLift({ baselineRate: 0.02, relativeLift: 0.05, alpha: 0.01, power: 0.9 }).control).toBe(597_547);
  });

  it('an 80/20 split needs more control users: 77,228 control, 19,307 treatment', () => {
    const plan = usersForLift({ baselineRate: 0.05, relativeLift: 0.1, alpha: 0.05, power: 0.8, treatmentRatio: 0.25 });
    expect(plan).toEqual({ control: 77_228, treatment: 19_307 });
  });

  it('power at 50,000 per arm 0.9435, at 31,234 0.8000; MDE at 50,000 = 7.87 % relative (the simpler formula that puts p(1 − p) of the control on both arms says 7.72 %)', () => {
    close(
      powerAt({ baselineRate: 0.05, relativeLift: 0.1, alpha: 0.05, controlUsers: 50_000 }),
      0.9435040587548013,
      1e-10,
    );
    close(
      powerAt({ baselineRate: 0.05, relativeLift: 0.1, alpha: 0.05, controlUsers: 31_234 }),
      0.8000424894129002,
      1e-10,
    );
    const mde = minimumDetectableLift({ baselineRate: 0.05, alpha: 0.05, power: 0.8, controlUsers: 50_000 });
    expect(mde).toBeCloseTo(0.0787, 3);
    // the MDE round-trips: at that lift the power is the one asked for
    close(powerAt({ baselineRate: 0.05, relativeLift: mde, alpha: 0.05, controlUsers: 50_000 }), 0.8, 1e-9);
  });
});

describe('sampleRatioCheck (scipy.stats.chisquare)', () => {
  it('flags 52/48 at 100,000 users and 50,000/51,200; passes 50,000/50,800', () => {
    const flagged = sampleRatioCheck([52_000, 48_000], [1, 1]);
    expect(flagged.mismatch).toBe(true);
    close(flagged.pValue, 1.1314837902433038e-36, 1e-8);
    const borderline = sampleRatioCheck([50_000, 51_200], [50, 50]);
    close(borderline.pValue, 0.00016183543368212335, 1e-9);
    expect(borderline.mismatch).toBe(true);
    const fine = sampleRatioCheck([50_000, 50_800], [1, 1]);
    close(fine.chiSquare, 6.3492063492, 1e-9);
    expect(fine.mismatch).toBe(false);
  });

  it('uses the weights, with three arms', () => {
    const check = sampleRatioCheck([30_500, 19_800, 49_700], [3, 2, 5]);
    expect(check.degreesOfFreedom).toBe(2);
    close(check.pValue, 0.0023188899754337036, 1e-9);
    expect(check.mismatch).toBe(false);
  });

  it('no users: p = 1, nothing flagged', () => {
    expect(sampleRatioCheck([0, 0], [1, 1])).toMatchObject({ pValue: 1, mismatch: false });
  });
});

describe('holmAdjust', () => {
  it('p = [0.010, 0.040, 0.030, 0.005] → [0.03, 0.06, 0.06, 0.02] (rejects the first and the fourth at 0.05)', () => {
    const adjusted = holmAdjust([0.01, 0.04, 0.03, 0.005]);
    for (const [i, expected] of [0.03, 0.06, 0.06, 0.02].entries()) close(adjusted[i]!, expected, 1e-12);
  });

  it('caps at 1 and keeps one p as it is', () => {
    expect(holmAdjust([0.6, 0.7])).toEqual([1, 1]);
    expect(holmAdjust([0.03])).toEqual([0.03]);
  });
});

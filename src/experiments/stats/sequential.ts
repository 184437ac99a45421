// The always-valid test: an asymptotic confidence sequence (Waudby-Smith et al. 2023, eq. 9 and 155; the method of
// GrowthBook's `SequentialTwoSidedTTest`). It holds at every sample size at once, so looking daily and stopping at the
// first exclusion of 0 keeps the false-positive rate ≤ α. docs/ab-testing.md says why this and not a plain mSPRT.
import type { Interval } from './proportions.js';

/** GrowthBook's default N*: a total (two-arm) size where the sequence is tightest; ours is the planned size. */
export const DEFAULT_TUNING_USERS = 5000;

/** ρ of eq. 161 for a two-sided sequence of level α tuned to be tightest at `tuningUsers` total users. */
export function mixtureRho(alpha: number, tuningUsers: number): number {
  const l = -2 * Math.log(alpha);
  return Math.sqrt((l + Math.log(l + 1)) / tuningUsers);
}

export interface SequentialLook {
  /** The estimate (a difference or a lift) at this look. */
  estimate: number;
  /** Its fixed-horizon standard error. */
  standardError: number;
  /** Users in the two arms together at this look. */
  totalUsers: number;
}

export interface SequentialResult {
  interval: Interval;
  /** The always-valid p-value of H0: effect = 0 at this look (1/E of the mixture martingale, capped at 1). */
  pValue: number;
}

/**
 * One look of the confidence sequence: μ̂ ± σ̂·√(2(Nρ²+1)/(Nρ²)·ln(√(Nρ²+1)/α)), and its p-value
 * min(1, √(Nρ²+1)·exp(−ρ²·N·μ̂²/σ̂² / (2(Nρ²+1)))).
 */
export function confidenceSequence(look: SequentialLook, alpha: number, tuningUsers: number): SequentialResult {
  const { estimate, standardError: se, totalUsers: n } = look;
  if (!(se > 0) || n <= 0) return { interval: [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY], pValue: 1 };
  const rho2 = mixtureRho(alpha, tuningUsers) ** 2;
  const nr = n * rho2;
  const half = se * Math.sqrt(((2 * (nr + 1)) / nr) * Math.log(Math.sqrt(nr + 1) / alpha));
  const standardized2 = (estimate * estimate * n) / (se * se);
  const logE = (rho2 * standardized2) / (2 * (nr + 1)) - 0.5 * Math.log(nr + 1);
  return { interval: [estimate - half, estimate + half], pValue: Math.min(1, Math.exp(-logE)) };
}

/**
 * A series of looks (cumulative counts at the end of each day) as one result: the sequence holds at all looks at
 * once, so their intervals may be intersected and the smallest p-value kept — the running answer never gets worse.
 */
export function runningConfidenceSequence(
  looks: readonly SequentialLook[],
  alpha: number,
  tuningUsers: number,
): SequentialResult {
  let interval: Interval = [Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY];
  let pValue = 1;
  for (const look of looks) {
    const result = confidenceSequence(look, alpha, tuningUsers);
    interval = [Math.max(interval[0], result.interval[0]), Math.min(interval[1], result.interval[1])];
    pValue = Math.min(pValue, result.pValue);
  }
  // Intersections of valid intervals can cross (when the estimate jumps); then the last look's interval is reported.
  if (interval[0] > interval[1] && looks.length > 0) {
    interval = confidenceSequence(looks[looks.length - 1]!, alpha, tuningUsers).interval;
  }
  return { interval, pValue };
}

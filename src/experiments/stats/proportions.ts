// One arm's click-through rate and the comparison of two arms, with users as the unit: `users` exposed, `clicks` of
// them clicked at least once, so each arm is a binomial proportion (see docs/ab-testing.md, "What is counted").
import { normalQuantile, twoSidedP } from './distributions.js';

export interface ArmCounts {
  users: number;
  clicks: number;
}

export type Interval = [number, number];

/** z_{1−α/2}: the two-sided critical value of level α. */
export const criticalValue = (alpha: number) => normalQuantile(1 - alpha / 2);

export const rateOf = ({ users, clicks }: ArmCounts) => (users > 0 ? clicks / users : 0);

/**
 * Wilson's score interval: the p whose score test does not reject at level α. Unlike p̂ ± z·SE it stays inside [0, 1]
 * and is honest at 0 clicks and at small n; with no users it is the whole of [0, 1].
 */
export function wilsonInterval(arm: ArmCounts, alpha = 0.05): Interval {
  const { users: n } = arm;
  if (n === 0) return [0, 1];
  const p = rateOf(arm);
  const z = criticalValue(alpha);
  const z2n = (z * z) / n;
  const centre = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n))) / (1 + z2n);
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** Var(p̂) of an arm, unpooled: p̂(1 − p̂)/n (0 for an arm without users, which the callers guard). */
export const rateVariance = (arm: ArmCounts) => (arm.users > 0 ? (rateOf(arm) * (1 - rateOf(arm))) / arm.users : 0);

export interface DifferenceTest {
  /** p̂_B − p̂_A. */
  difference: number;
  /** Unpooled standard error of the difference: what its interval uses. */
  standardError: number;
  interval: Interval;
  /** The pooled z statistic of H0: p_A = p_B. */
  z: number;
  pValue: number;
}

/**
 * The fixed-horizon two-proportion z-test of treatment B against control A: the test pools the arms (the variance
 * under H0), the interval does not (the variance where the estimate is). Valid for one look at a size fixed ahead.
 */
export function twoProportionTest(control: ArmCounts, treatment: ArmCounts, alpha = 0.05): DifferenceTest {
  const difference = rateOf(treatment) - rateOf(control);
  const standardError = Math.sqrt(rateVariance(control) + rateVariance(treatment));
  const half = criticalValue(alpha) * standardError;
  const totalUsers = control.users + treatment.users;
  const pooled = totalUsers > 0 ? (control.clicks + treatment.clicks) / totalUsers : 0;
  const pooledSe =
    control.users > 0 && treatment.users > 0
      ? Math.sqrt(pooled * (1 - pooled) * (1 / control.users + 1 / treatment.users))
      : 0;
  const z = pooledSe > 0 ? difference / pooledSe : 0;
  return { difference, standardError, interval: [difference - half, difference + half], z, pValue: twoSidedP(z) };
}

export interface LiftEstimate {
  /** p̂_B/p̂_A − 1. */
  lift: number;
  /** Delta-method standard error of the lift. */
  standardError: number;
  interval: Interval;
}

/**
 * Relative lift with a delta-method interval: Var(L̂) ≈ Var(p̂_B)/p̂_A² + p̂_B²·Var(p̂_A)/p̂_A⁴ (arms independent).
 * Null while the control has no clicks: the ratio is undefined there.
 */
export function relativeLift(control: ArmCounts, treatment: ArmCounts, alpha = 0.05): LiftEstimate | null {
  const base = rateOf(control);
  if (base === 0 || treatment.users === 0) return null;
  const rate = rateOf(treatment);
  const variance = rateVariance(treatment) / base ** 2 + (rate ** 2 * rateVariance(control)) / base ** 4;
  const standardError = Math.sqrt(variance);
  const lift = rate / base - 1;
  const half = criticalValue(alpha) * standardError;
  return { lift, standardError, interval: [lift - half, lift + half] };
}

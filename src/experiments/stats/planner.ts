// How many users an experiment needs (or what it can detect with the users it has) for the fixed-horizon test.
import { normalCdf, normalQuantile } from './distributions.js';
import { criticalValue } from './proportions.js';

export interface PlanInput {
  /** The control's expected CTR, 0 < p < 1. */
  baselineRate: number;
  alpha: number;
  /** 1 − β: the chance to detect the effect when it is there. */
  power: number;
  /** Treatment users per control user (1 for an even split; 0.25 for an 80/20 split). */
  treatmentRatio?: number;
}

/**
 * Control users for a two-sided two-proportion test to detect a relative lift (Fleiss' formula, pooled under H0 and
 * unpooled under H1): n_A = [z_{α/2}·√(p̄q̄(1 + 1/k)) + z_β·√(p₁q₁ + p₂q₂/k)]² / Δ², rounded up; n_B = k·n_A.
 */
export function usersForLift(input: PlanInput & { relativeLift: number }): { control: number; treatment: number } {
  const k = input.treatmentRatio ?? 1;
  const p1 = input.baselineRate;
  const p2 = p1 * (1 + input.relativeLift);
  const pooled = (p1 + k * p2) / (1 + k);
  const zAlpha = criticalValue(input.alpha);
  const zBeta = normalQuantile(input.power);
  const root =
    zAlpha * Math.sqrt(pooled * (1 - pooled) * (1 + 1 / k)) + zBeta * Math.sqrt(p1 * (1 - p1) + (p2 * (1 - p2)) / k);
  const control = Math.ceil((root * root) / (p2 - p1) ** 2);
  return { control, treatment: Math.ceil(k * control) };
}

/** The power of the test at a true relative lift with the given users: Φ(|Δ|/SE − z) + Φ(−|Δ|/SE − z), SE unpooled. */
export function powerAt(input: Omit<PlanInput, 'power'> & { relativeLift: number; controlUsers: number }): number {
  const k = input.treatmentRatio ?? 1;
  const p1 = input.baselineRate;
  const p2 = p1 * (1 + input.relativeLift);
  const se = Math.sqrt((p1 * (1 - p1)) / input.controlUsers + (p2 * (1 - p2)) / (k * input.controlUsers));
  const z = criticalValue(input.alpha);
  const shift = Math.abs(p2 - p1) / se;
  return normalCdf(shift - z) + normalCdf(-shift - z);
}

/**
 * The smallest relative lift (upwards) the test detects with the given power and users: the root of powerAt = power,
 * found by bisection (powerAt rises with the lift).
 */
export function minimumDetectableLift(input: PlanInput & { controlUsers: number }): number {
  let low = 0;
  let high = 1;
  while (powerAt({ ...input, relativeLift: high }) < input.power && high < 1e6) high *= 2;
  for (let i = 0; i < 200 && high - low > 1e-12; i++) {
    const mid = (low + high) / 2;
    if (powerAt({ ...input, relativeLift: mid }) < input.power) low = mid;
    else high = mid;
  }
  return high;
}

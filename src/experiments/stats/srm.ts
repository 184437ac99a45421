// Sample-ratio mismatch: do the users per arm fit the designed weights? A mismatch means the arms are not comparable
// (exposure logged after something the arm changes, bots filtered by arm, a caching layer serving one arm…).
import { chiSquareUpper } from './distributions.js';

/** GrowthBook's threshold: strict, because the check runs on every experiment at every look. */
export const SRM_P_THRESHOLD = 0.001;

export interface SrmCheck {
  chiSquare: number;
  degreesOfFreedom: number;
  pValue: number;
  mismatch: boolean;
}

/** Pearson's χ² of observed users against weights·total, over the arms with a weight above 0. */
export function sampleRatioCheck(users: readonly number[], weights: readonly number[]): SrmCheck {
  const kept = users.map((observed, i) => ({ observed, weight: weights[i] ?? 0 })).filter((arm) => arm.weight > 0);
  const total = kept.reduce((sum, arm) => sum + arm.observed, 0);
  const weightSum = kept.reduce((sum, arm) => sum + arm.weight, 0);
  const degreesOfFreedom = kept.length - 1;
  if (total === 0 || degreesOfFreedom < 1) return { chiSquare: 0, degreesOfFreedom, pValue: 1, mismatch: false };
  const chiSquare = kept.reduce((sum, arm) => {
    const expected = (arm.weight / weightSum) * total;
    return sum + (arm.observed - expected) ** 2 / expected;
  }, 0);
  const pValue = chiSquareUpper(chiSquare, degreesOfFreedom);
  return { chiSquare, degreesOfFreedom, pValue, mismatch: pValue < SRM_P_THRESHOLD };
}

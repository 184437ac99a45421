// Pure: seconds left in a run from the time of its recent steps.

/** Steps whose mean time predicts the rest: recent enough to follow a change of pace, many enough to be steady. */
const WINDOW = 20;
/** Fewer timed steps than this give no estimate: an ETA that jumps by minutes is worse than none. */
const MIN_STEPS = 3;

/**
 * The first step seen is left out: it carries the warm-up (allocations, kernel choice, the first sample), which
 * would make the first estimates far too long.
 * @example const eta = createEtaEstimator(); eta.secondsLeft(10, 100, 250) // null, then ≈ 22.5 once timed
 */
export function createEtaEstimator() {
  const recent: number[] = [];
  let sawFirst = false;
  return {
    secondsLeft(step: number, totalSteps: number, stepMs: number): number | null {
      if (!sawFirst) {
        sawFirst = true;
        return null;
      }
      recent.push(stepMs);
      if (recent.length > WINDOW) recent.shift();
      if (recent.length < MIN_STEPS) return null;
      const meanMs = recent.reduce((sum, ms) => sum + ms, 0) / recent.length;
      return (Math.max(0, totalSteps - step) * meanMs) / 1000;
    },
  };
}

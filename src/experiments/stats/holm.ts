// Holm's step-down correction: several comparisons (one experiment in several regions) with the chance of any false
// positive among them kept ≤ α, uniformly more powerful than Bonferroni and valid under any dependence.

/** Adjusted p-values in the input's order: p̃₍ₖ₎ = max_{j≤k} min(1, (m − j + 1)·p₍ⱼ₎); reject where p̃ ≤ α. */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((a, b) => a.p - b.p);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, index }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[index] = running;
  });
  return adjusted;
}

// Rates, lifts, intervals and p-values as the report page prints them (pure; the same in both languages).

/** 0.0523 → `5.23 %`. */
export function formatPercent(value: number, digits = 2): string {
  return `${(value * 100).toFixed(digits)} %`;
}

/** A relative lift with its sign: 0.231 → `+23.1 %`, −0.05 → `−5.0 %`. */
export function formatLift(value: number | null, digits = 1): string {
  if (value === null) return '—';
  const text = `${(Math.abs(value) * 100).toFixed(digits)} %`;
  return value >= 0 ? `+${text}` : `−${text}`;
}

/** `[a, b]` as `a … b` with each end formatted; null (no clicks in the control yet) as a dash. */
export function formatInterval(interval: readonly [number, number] | null, format: (value: number) => string): string {
  if (interval === null) return '—';
  return `${format(interval[0])} … ${format(interval[1])}`;
}

/** p-values: four decimals, or scientific below 0.0001 (`3.2e-7`), as the server's own reason writes them. */
export function formatPValue(p: number): string {
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

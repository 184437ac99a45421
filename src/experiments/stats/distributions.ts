// The normal and chi-square tails the tests need, accurate far into the tails (p-values of 1e-15 keep their digits):
// both come from the regularized upper incomplete gamma function Q(a, x), since erfc(x) = Q(1/2, x²).

const MAX_ITERATIONS = 500;
const EPSILON = 1e-16;
const TINY = 1e-300;

// Lanczos approximation (g = 7, 9 terms), good to about 1e-15 for the half-integers the chi-square tail uses.
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(a) for a > 0. */
export function logGamma(a: number): number {
  if (a < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * a)) - logGamma(1 - a);
  const z = a - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/**
 * Q(a, x) = Γ(a, x)/Γ(a), the regularized upper incomplete gamma function: the series for P below a + 1, Lentz's
 * continued fraction for Q above (each where it converges fast and keeps relative precision).
 */
export function gammaUpper(a: number, x: number): number {
  if (!(a > 0) || Number.isNaN(x)) return Number.NaN;
  if (x <= 0) return 1;
  if (x === Number.POSITIVE_INFINITY) return 0;
  const logPrefix = a * Math.log(x) - x - logGamma(a);
  if (x < a + 1) return 1 - Math.exp(logPrefix) * lowerSeries(a, x);
  return Math.exp(logPrefix) * upperContinuedFraction(a, x);
}

function lowerSeries(a: number, x: number): number {
  let term = 1 / a;
  let sum = term;
  for (let n = 1; n < MAX_ITERATIONS; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPSILON) break;
  }
  return sum;
}

function upperContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPSILON) break;
  }
  return h;
}

/** erfc(x) for any x, with full relative precision for large x (erfc(8) ≈ 1.1e-29 keeps its digits). */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  return gammaUpper(0.5, x * x);
}

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** P(|Z| ≥ |z|): the two-sided p-value of a z statistic (erfc, not 2·(1 − Φ), which loses every digit past z ≈ 8). */
export function twoSidedP(z: number): number {
  return erfc(Math.abs(z) / Math.SQRT2);
}

const normalDensity = (x: number) => Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);

/**
 * Φ⁻¹(p): Newton steps on the tail that holds p (so 1e-12 and 1 − 1e-12 are both exact to ~1e-14), started from a
 * logistic guess; a handful of steps reach machine precision.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return Number.NEGATIVE_INFINITY;
    if (p === 1) return Number.POSITIVE_INFINITY;
    return Number.NaN;
  }
  if (p > 0.5) return -normalQuantile(1 - p);
  // Here p ≤ 0.5 and x ≤ 0; solve Φ(x) = p with Φ(x) computed in the lower tail (no cancellation).
  let x = -Math.sqrt(-2 * Math.log(p)) + 1; // rough start, below-or-near the root
  if (p > 0.2) x = -1.7 * Math.log(1 / p - 1) * 0.6;
  for (let i = 0; i < 100; i++) {
    const step = (normalCdf(x) - p) / normalDensity(x);
    // Halley's correction keeps the far tail from overshooting
    const next = x - step / (1 + (x * step) / 2);
    if (Math.abs(next - x) <= 1e-15 * Math.max(1, Math.abs(x))) return next;
    x = next;
  }
  return x;
}

/** P(χ²_df ≥ statistic). */
export function chiSquareUpper(statistic: number, df: number): number {
  if (df <= 0) return 1;
  return gammaUpper(df / 2, statistic / 2);
}

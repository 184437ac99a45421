// Perceptual hash (pHash), pure: a 32×32 greyscale thumbnail → 64 bits that survive resizing, re-encoding and small
// colour changes. Near-duplicate pictures differ in only a few bits; unrelated ones in about half of them.

export const HASH_INPUT_SIZE = 32;
const KEPT = 8; // the 8×8 lowest frequencies: the picture's layout, without its fine detail

/** Cosine table: COS[u][x] = cos((2x + 1)uπ / 64), computed once. */
const COS = Array.from({ length: KEPT }, (_, u) =>
  Float64Array.from({ length: HASH_INPUT_SIZE }, (_, x) =>
    Math.cos(((2 * x + 1) * u * Math.PI) / (2 * HASH_INPUT_SIZE)),
  ),
);

/**
 * `grey` is 32×32 row-major brightness (0–255). Returns the 64-bit hash as a 16-digit hex string (JSON-friendly).
 * Bit i is set when DCT coefficient i (of the 8×8 low block, DC excluded from the median) is above the median.
 */
export function perceptualHash(grey: ArrayLike<number>): string {
  if (grey.length !== HASH_INPUT_SIZE * HASH_INPUT_SIZE)
    throw new RangeError(`perceptualHash needs ${HASH_INPUT_SIZE}×${HASH_INPUT_SIZE} pixels, got ${grey.length}`);
  const coefficients = new Float64Array(KEPT * KEPT);
  for (let u = 0; u < KEPT; u++) {
    for (let v = 0; v < KEPT; v++) {
      let sum = 0;
      for (let y = 0; y < HASH_INPUT_SIZE; y++) {
        const cosY = COS[u]![y]!;
        for (let x = 0; x < HASH_INPUT_SIZE; x++) sum += grey[y * HASH_INPUT_SIZE + x]! * cosY * COS[v]![x]!;
      }
      coefficients[u * KEPT + v] = sum;
    }
  }
  const median = [...coefficients.subarray(1)].sort((a, b) => a - b)[(KEPT * KEPT - 1) >> 1]!;
  let bits = 0n;
  for (let i = 0; i < KEPT * KEPT; i++) if (coefficients[i]! > median) bits |= 1n << BigInt(i);
  return bits.toString(16).padStart(16, '0');
}

/** Number of differing bits between two hashes from `perceptualHash` (0 = same layout, ~32 = unrelated). */
export function hashDistance(a: string, b: string): number {
  let diff = BigInt(`0x${a}`) ^ BigInt(`0x${b}`);
  let count = 0;
  while (diff) {
    diff &= diff - 1n;
    count++;
  }
  return count;
}

/** For each output cell of an axis, the source pixels it covers and by how much (box filter, weights sum to 1). */
function boxWeights(sourceLength: number, targetLength: number): [number, number][][] {
  const span = sourceLength / targetLength;
  return Array.from({ length: targetLength }, (_, i) => {
    const start = i * span;
    const end = start + span;
    const cover: [number, number][] = [];
    for (let j = Math.floor(start); j < Math.min(sourceLength, Math.ceil(end)); j++)
      cover.push([j, (Math.min(end, j + 1) - Math.max(start, j)) / span]);
    return cover;
  });
}

/**
 * A `width × height` brightness image averaged down (or boxed up) to the 32×32 `perceptualHash` input. In JS rather
 * than a second sharp pipeline: for the small images of a dataset check, the pipeline's setup cost more than the work.
 */
export function hashInputOf(grey: ArrayLike<number>, width: number, height: number): Float64Array {
  const columns = boxWeights(width, HASH_INPUT_SIZE);
  const rows = boxWeights(height, HASH_INPUT_SIZE);
  const narrowed = new Float64Array(height * HASH_INPUT_SIZE);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < HASH_INPUT_SIZE; x++) {
      let sum = 0;
      for (const [j, weight] of columns[x]!) sum += grey[y * width + j]! * weight;
      narrowed[y * HASH_INPUT_SIZE + x] = sum;
    }
  }
  const result = new Float64Array(HASH_INPUT_SIZE * HASH_INPUT_SIZE);
  for (let y = 0; y < HASH_INPUT_SIZE; y++) {
    for (const [j, weight] of rows[y]!)
      for (let x = 0; x < HASH_INPUT_SIZE; x++)
        result[y * HASH_INPUT_SIZE + x]! += narrowed[j * HASH_INPUT_SIZE + x]! * weight;
  }
  return result;
}

// Deterministic assignment: the same user in the same experiment gets the same arm in every process, forever, with
// no state. The bucket is GrowthBook's v2 hash (32-bit FNV-1a over UTF-16 code units, applied twice), so a content
// system using GrowthBook's SDKs with the same salt buckets users exactly as we do.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;

/** 32-bit FNV-1a over the string's UTF-16 code units, unsigned. */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, FNV_PRIME) >>> 0;
  }
  return hash >>> 0;
}

/** The user's bucket in [0, 1), resolution 1e-4: h(String(h(salt + userId))) mod 10000 / 10000. */
export function bucketOf(salt: string, userId: string): number {
  return (fnv1a32(String(fnv1a32(salt + userId))) % 10000) / 10000;
}

/**
 * The arm whose slice of [0, 1) holds the bucket; slices follow the arms' order with widths weight/Σweights. The
 * last arm takes what rounding leaves, so every bucket lands somewhere.
 */
export function armIndexFor(bucket: number, weights: readonly number[]): number {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let end = 0;
  for (let i = 0; i < weights.length; i++) {
    end += weights[i]! / total;
    if (bucket < end) return i;
  }
  return weights.length - 1;
}

// Which bucket each training picture goes to (pure): the engine crops every picture to the size given here.
import { assignBucket, makeBuckets, type Bucket } from '../dataset/buckets.js';

export interface BucketingOptions {
  mode: 'auto' | 'on' | 'off';
  /** Training resolution; null (the model's native size, known only to the engine) leaves every picture square. */
  resolutionPx: number | null;
  maxUpscale: number;
}

interface Sized {
  width: number;
  height: number;
}

/** One bucket per item (same order), or null when training uses plain squares at the resolution. */
export function trainingBuckets(items: readonly Sized[], options: BucketingOptions): Bucket[] | null {
  if (options.mode === 'off' || options.resolutionPx === null) return null;
  const aspects = new Set(items.map((item) => (item.width / item.height).toFixed(3)));
  if (options.mode === 'auto' && aspects.size <= 1) return null;
  const buckets = makeBuckets({ resolutionPx: options.resolutionPx });
  return items.map((item) => assignBucket(buckets, item.width, item.height, { maxUpscale: options.maxUpscale }).bucket);
}

/** "256×256 ×30, 320×192 ×10": bucket sizes with their picture counts, largest group first. */
export function describeBuckets(buckets: readonly Bucket[]): string {
  const counts = new Map<string, number>();
  for (const bucket of buckets)
    counts.set(`${bucket.widthPx}×${bucket.heightPx}`, (counts.get(`${bucket.widthPx}×${bucket.heightPx}`) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([size, count]) => `${size} ×${count}`)
    .join(', ');
}

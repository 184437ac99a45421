// Aspect-ratio buckets, pure: sizes of about `resolution²` pixels in steps of 64 px, and which bucket an image goes to.
// Training on the closest-aspect bucket instead of a square crop keeps the whole picture of wide and tall images.

export interface Bucket {
  widthPx: number;
  heightPx: number;
}

export interface BucketOptions {
  /** Buckets hold at most `resolutionPx²` pixels. */
  resolutionPx: number;
  /** Both sides are multiples of this: the VAE downsamples 8× and the UNet 8× again, so 64 keeps every level whole. */
  stepPx?: number;
  /** Widest (and tallest) allowed side ratio, e.g. 2 for 2:1. */
  maxAspect?: number;
}

export const DEFAULT_BUCKET_STEP_PX = 64;
export const DEFAULT_MAX_ASPECT = 2;

/** Every bucket, sorted from tallest to widest; always includes the largest square that fits. */
export function makeBuckets({
  resolutionPx,
  stepPx = DEFAULT_BUCKET_STEP_PX,
  maxAspect = DEFAULT_MAX_ASPECT,
}: BucketOptions): Bucket[] {
  const area = resolutionPx * resolutionPx;
  const square = Math.max(stepPx, Math.floor(resolutionPx / stepPx) * stepPx);
  const found = new Map<string, Bucket>([[`${square}x${square}`, { widthPx: square, heightPx: square }]]);
  for (let width = stepPx; width * stepPx <= area; width += stepPx) {
    // For each width the tallest height that stays within the area: the biggest bucket of that shape.
    const height = Math.floor(area / width / stepPx) * stepPx;
    if (Math.max(width / height, height / width) > maxAspect) continue;
    // Mirrored too: walking widths alone finds 1024×576 and 960×576 but only 576×1024 of the tall ones.
    found.set(`${width}x${height}`, { widthPx: width, heightPx: height });
    found.set(`${height}x${width}`, { widthPx: height, heightPx: width });
  }
  return [...found.values()].sort((a, b) => a.widthPx / a.heightPx - b.widthPx / b.heightPx);
}

export interface BucketChoice {
  bucket: Bucket;
  /** How much the image is scaled to cover the bucket (> 1: upscaled). */
  scale: number;
  /** Share of the image's area that survives the crop to the bucket's shape (1: nothing cut). */
  keptFraction: number;
}

/** Share of a `width×height` picture kept when cropped to the aspect ratio of `target`. */
export function keptFractionOfCrop(width: number, height: number, target: Bucket): number {
  const imageAspect = width / height;
  const targetAspect = target.widthPx / target.heightPx;
  return Math.min(imageAspect, targetAspect) / Math.max(imageAspect, targetAspect);
}

/**
 * The bucket closest in aspect ratio (compared on a log scale, so 2:1 and 1:2 are equally far from square).
 * With `maxUpscale`, a bucket that would need more upscaling is shrunk, in `stepPx` steps and keeping its shape,
 * until it does not: small pictures are not blown up past the limit.
 */
export function assignBucket(
  buckets: readonly Bucket[],
  width: number,
  height: number,
  options: { maxUpscale?: number; stepPx?: number } = {},
): BucketChoice {
  if (buckets.length === 0) throw new RangeError('assignBucket needs at least one bucket');
  const imageLogAspect = Math.log(width / height);
  let best = buckets[0]!;
  for (const bucket of buckets) {
    if (
      Math.abs(Math.log(bucket.widthPx / bucket.heightPx) - imageLogAspect) <
      Math.abs(Math.log(best.widthPx / best.heightPx) - imageLogAspect)
    )
      best = bucket;
  }
  const maxUpscale = options.maxUpscale ?? Infinity;
  const stepPx = options.stepPx ?? DEFAULT_BUCKET_STEP_PX;
  let scale = coverScale(width, height, best);
  if (scale > maxUpscale) {
    const shrink = maxUpscale / scale;
    best = {
      widthPx: Math.max(stepPx, Math.floor((best.widthPx * shrink) / stepPx) * stepPx),
      heightPx: Math.max(stepPx, Math.floor((best.heightPx * shrink) / stepPx) * stepPx),
    };
    scale = coverScale(width, height, best);
  }
  return { bucket: best, scale, keptFraction: keptFractionOfCrop(width, height, best) };
}

/** The scale at which a `width×height` picture just covers `bucket` (what a cover-resize then crop does). */
export function coverScale(width: number, height: number, bucket: Bucket): number {
  return Math.max(bucket.widthPx / width, bucket.heightPx / height);
}

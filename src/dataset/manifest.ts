// Writes manifest.jsonl: the exact list of images and captions the engine trains on (one JSON object per line).
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { Bucket } from './buckets.js';
import type { MeasuredItem } from './read.js';

export interface ManifestLine {
  image: string;
  caption: string;
  width: number;
  height: number;
  repeats: number;
  /** [width, height] the engine trains this picture at; absent: the square training resolution. */
  bucket?: [number, number];
  /** A `reg_data_dir` class picture: trained at `prior_loss_weight`, without the trigger word. */
  is_class?: true;
  /** `masked_loss`: the mask file, or the picture itself when its transparency is the mask. */
  mask?: string;
}

/** What a manifest line says beyond the picture itself (train/class-pictures-and-masks.ts). */
export type ManifestExtra = Pick<ManifestLine, 'is_class' | 'mask'>;

export function manifestText(
  items: MeasuredItem[],
  buckets: readonly Bucket[] | null = null,
  extras: readonly ManifestExtra[] = [],
): string {
  return `${items
    .map((item, index) => {
      const bucket = buckets?.[index];
      const line: ManifestLine = {
        image: item.path,
        caption: item.caption,
        width: item.width,
        height: item.height,
        repeats: item.repeats,
        ...extras[index],
      };
      return JSON.stringify(bucket ? { ...line, bucket: [bucket.widthPx, bucket.heightPx] } : line);
    })
    .join('\n')}\n`;
}

export function writeManifest(
  path: string,
  items: MeasuredItem[],
  buckets: readonly Bucket[] | null = null,
  extras: readonly ManifestExtra[] = [],
): void {
  writeFileAtomic(path, manifestText(items, buckets, extras));
}

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
}

export function manifestText(items: MeasuredItem[], buckets: readonly Bucket[] | null = null): string {
  return `${items
    .map((item, index) => {
      const bucket = buckets?.[index];
      const line: ManifestLine = {
        image: item.path,
        caption: item.caption,
        width: item.width,
        height: item.height,
        repeats: item.repeats,
      };
      return JSON.stringify(bucket ? { ...line, bucket: [bucket.widthPx, bucket.heightPx] } : line);
    })
    .join('\n')}\n`;
}

export function writeManifest(path: string, items: MeasuredItem[], buckets: readonly Bucket[] | null = null): void {
  writeFileAtomic(path, manifestText(items, buckets));
}

// Writes manifest.jsonl: the exact list of images and captions the engine trains on (one JSON object per line).
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { MeasuredItem } from './read.js';

export interface ManifestLine {
  image: string;
  caption: string;
  width: number;
  height: number;
  repeats: number;
}

export function manifestText(items: MeasuredItem[]): string {
  return items
    .map((item) => JSON.stringify({ image: item.path, caption: item.caption, width: item.width, height: item.height, repeats: item.repeats } satisfies ManifestLine))
    .join('\n') + '\n';
}

export function writeManifest(path: string, items: MeasuredItem[]): void {
  writeFileAtomic(path, manifestText(items));
}

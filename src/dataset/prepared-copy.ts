// Where the prepared copy goes, pure: file names in the prepared folder (bucket folders, formats sharp can write).
import type { Bucket } from './buckets.js';

export type OutputFormat = 'jpeg' | 'png' | 'webp';

/** JPEG, PNG and WebP keep their format; BMP and TIFF become PNG (lossless, and every trainer reads it). */
export function outputFormatOf(relPath: string): OutputFormat {
  const ext = relPath.slice(relPath.lastIndexOf('.') + 1).toLowerCase();
  return ext === 'jpg' || ext === 'jpeg' ? 'jpeg' : ext === 'webp' ? 'webp' : 'png';
}

const KEEPS_EXTENSION = /\.(jpe?g|png|webp)$/i;

/**
 * `10_castle/a.bmp` → `10_castle/a.png`; with a bucket, `10_castle/832x704/a.png`: the bucket folder goes inside the
 * kohya repeat folder, so `N_name` repeats still apply to the prepared copy.
 */
export function preparedPathOf(relPath: string, bucket: Bucket | null): string {
  const renamed = KEEPS_EXTENSION.test(relPath) ? relPath : `${relPath.slice(0, relPath.lastIndexOf('.'))}.png`;
  if (bucket === null) return renamed;
  const parts = renamed.split('/');
  const bucketFolder = `${bucket.widthPx}x${bucket.heightPx}`;
  const at = parts.length > 1 && /^\d+_./.test(parts[0]!) ? 1 : 0;
  return [...parts.slice(0, at), bucketFolder, ...parts.slice(at)].join('/');
}

/** Makes clashing names unique (`a.bmp` and `a.png` both become `a.png`): later ones get `-2`, `-3`, … */
export function uniquePaths(paths: readonly string[]): string[] {
  const used = new Set<string>();
  return paths.map((path) => {
    let candidate = path;
    const dot = path.lastIndexOf('.');
    for (let n = 2; used.has(candidate.toLowerCase()); n++) candidate = `${path.slice(0, dot)}-${n}${path.slice(dot)}`;
    used.add(candidate.toLowerCase());
    return candidate;
  });
}

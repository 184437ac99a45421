// Thumbnails of workspace pictures, made once with sharp and kept in the workspace's `.lora-scripts/thumbs/`.
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { RequestRefused } from '../security/index.js';

/** The sizes the web app asks for: a grid cell, a card, a side-by-side view. Few sizes keep the cache small. */
export const THUMB_SIZES = [128, 256, 512, 1024] as const;

export interface Thumbnail {
  path: string;
  bytes: number;
  etag: string;
}

/**
 * A JPEG of `file` at most `size` px on its long side. Named by the picture's path, size and time, so a rewritten
 * picture (a new sample at the same path) gets a new thumbnail, and two requests at once write the same bytes.
 */
export async function thumbnailOf(workspace: string, file: string, info: Stats, size: number): Promise<Thumbnail> {
  const key = createHash('sha256').update(`${file}\0${info.size}\0${info.mtimeMs}\0${size}`).digest('hex');
  const folder = join(workspace, '.lora-scripts', 'thumbs', key.slice(0, 2));
  const path = join(folder, `${key}.jpg`);
  const cached = await stat(path).catch(() => null);
  if (cached === null) await writeThumbnail(file, path, size, relative(workspace, file));
  const bytes = cached?.size ?? (await stat(path)).size;
  return { path, bytes, etag: `"t-${key.slice(0, 24)}"` };
}

async function writeThumbnail(file: string, path: string, size: number, shownAs: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    // rotate(): phone pictures carry their orientation in EXIF; the thumbnail shows them upright, as the trainer sees them.
    await sharp(file, { limitInputPixels: 268_402_689 })
      .rotate()
      .resize(size, size, { fit: 'inside', withoutEnlargement: true })
      .jpeg({ quality: 82 })
      .toFile(temporary);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new RequestRefused(400, `is not a picture that can be read (${(error as Error).message.split('\n')[0]})`, {
      code: 'not_a_picture',
      culprit: JSON.stringify(shownAs),
    });
  }
}

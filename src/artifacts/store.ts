// Content-addressed files on the shared root every worker mounts: a file's name is its bytes' sha256, so two workers
// that make the same bytes name the same file, and two that make different bytes never collide. A file is written
// once: it appears whole (temp file, fsync, hard link) and is never rewritten, so a reader never sees it change.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { artifactPath } from './core.js';

export interface StoredArtifact {
  /** Relative to the root, `/`-separated: `artifacts/ab/ab12….png`. */
  path: string;
  sha256: string;
  /** false: a file with these bytes was already there and is reused as it is. */
  created: boolean;
}

/** @example const { path } = storeContentAddressed('/mnt/studio', png, 'png') */
export function storeContentAddressed(root: string, bytes: Uint8Array, ext: string): StoredArtifact {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const path = artifactPath(sha256, ext);
  const target = join(root, path);
  if (existsSync(target)) return { path, sha256, created: false };
  mkdirSync(dirname(target), { recursive: true });
  // A unique temp name per writer, then link(2), which (unlike rename) refuses to replace an existing file: of two
  // writers racing on the same bytes one links and the other finds EEXIST, and the file is written exactly once.
  // NFS does link atomically too (it is the classic NFS-safe lock-file trick).
  const temp = join(dirname(target), `.${sha256}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx');
    try {
      for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    try {
      linkSync(temp, target);
      return { path, sha256, created: true };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { path, sha256, created: false };
      throw error;
    }
  } finally {
    rmSync(temp, { force: true });
  }
}

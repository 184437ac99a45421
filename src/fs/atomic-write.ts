// Atomic file writes: a temp file beside the target, fsync, rename. A crash never leaves a half-written output.
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Readers see the old file or the new one, never half of one; the temp file is removed if anything fails. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  writeThroughTempFile(path, (fd) => {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  });
}

/**
 * The same guarantee for output written piece by piece (a merged checkpoint is too large to hold at once):
 * `write` gets the temp file's descriptor; the file is fsynced and renamed when it returns.
 */
export function writeThroughTempFile<T>(path: string, write: (fd: number) => T): T {
  mkdirSync(dirname(path), { recursive: true });
  // A unique temp name per call: two writers of the same file never share a temp file.
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx');
    let result: T;
    try {
      result = write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    return result;
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/**
 * `writeThroughTempFile` for a writer that yields to the event loop between pieces (a server stays responsive while
 * it merges a checkpoint); if `write` rejects (a cancel), the temp file is removed and the target left as it was.
 */
export async function writeThroughTempFileAsync<T>(path: string, write: (fd: number) => Promise<T>): Promise<T> {
  mkdirSync(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fd = openSync(temp, 'wx');
    let result: T;
    try {
      result = await write(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
    return result;
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

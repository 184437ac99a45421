// Reads and writes .safetensors files on disk; the format itself lives in safetensors.ts.
import { randomBytes } from 'node:crypto';
import { fstatSync, readSync } from 'node:fs';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { LoraFileError } from './lora-file-error.js';
import {
  parseSafetensors,
  parseSafetensorsHeader,
  readHeaderSize,
  serializeSafetensors,
  type SafetensorsContent,
  type SafetensorsFile,
  type SafetensorsHeader,
} from './safetensors.js';

/**
 * Reads only the header: from bytes already in memory, or from an open file descriptor (reading 8 + N bytes,
 * never the tensors). `fileName` names the file in error messages.
 */
export function readSafetensorsHeader(source: Uint8Array | number, fileName: string): SafetensorsHeader {
  if (typeof source !== 'number') return parseSafetensorsHeader(source, fileName);
  const fileSizeBytes = fstatSync(source).size;
  const first8 = readAt(source, 8, 0);
  // Checked against the file size first, so a hostile length never decides how much we allocate.
  const headerSizeBytes = readHeaderSize(first8, fileSizeBytes, fileName);
  const bytes = Buffer.concat([first8, readAt(source, headerSizeBytes, 8)]);
  return parseSafetensorsHeader(bytes, fileName, fileSizeBytes);
}

function readAt(fd: number, length: number, position: number): Buffer {
  const buffer = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const read = readSync(fd, buffer, done, length - done, position + done);
    if (read === 0) break; // the file shrank under us; the parser reports the short read
    done += read;
  }
  return buffer.subarray(0, done);
}

/** Reads a whole file; tensor data are views into one buffer holding it. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new LoraFileError('no such file', { code: 'file_not_found', culprit: path, hint: 'check the path' });
  }
  return parseSafetensors(bytes, path);
}

/** Serializes and writes atomically; returns the bytes written. */
export async function writeSafetensorsAtomic(path: string, content: SafetensorsContent): Promise<Buffer> {
  const bytes = serializeSafetensors(content);
  await writeBytesAtomic(path, bytes);
  return bytes;
}

/**
 * Writes to a temp file in the same folder, fsyncs, then renames over `path`, so readers see the old file or the
 * new one, never half of one. The temp file is removed if anything fails.
 * (src/fs/atomic-write.ts does the same synchronously; this one is async and gives each call its own temp name.)
 */
export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

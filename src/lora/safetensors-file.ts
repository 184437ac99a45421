// Reads and writes .safetensors files on disk; the format itself lives in safetensors.ts.
import { fstatSync, readSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs/atomic-write.js';
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

/** Atomic write (temp file + fsync + rename, see src/fs/atomic-write.ts); async for the callers' convenience. */
export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<void> {
  writeFileAtomic(path, bytes);
}

// Reads what `inspect` needs from a file, never the whole file at once: the header, the scalar `.alpha` tensors,
// and the hashes, streamed in 1 MiB chunks.
import { createHash } from 'node:crypto';
import { closeSync, readSync } from 'node:fs';
import { alphaValue } from './alpha-tensor.js';
import { inspectLora, type FileHashes, type InspectReport } from './inspect.js';
import { LoraFileError } from './lora-file-error.js';
import { readSafetensorsHeader } from './safetensors-file.js';
import { createLegacyHasher } from './sshs-hashes.js';
import { openSafetensors } from './streamed-safetensors.js';
import type { SafetensorsHeader } from './safetensors.js';

const CHUNK_BYTES = 1 << 20;

export interface InspectFileOptions {
  /** Hashing reads the whole file once; skip it for a quick look at a large file. */
  shouldHash?: boolean;
}

export function inspectLoraFile(path: string, options: InspectFileOptions = {}): InspectReport {
  const fd = openSafetensors(path);
  try {
    const header = readSafetensorsHeader(fd, path);
    const sizeBytes = header.dataStartBytes + dataSize(header);
    return inspectLora({
      fileName: path,
      sizeBytes,
      metadata: header.metadata,
      tensors: header.tensors,
      alphas: readAlphas(fd, header),
      hashes: options.shouldHash === false ? undefined : hashFile(fd, path, header.dataStartBytes, sizeBytes),
    });
  } finally {
    closeSync(fd);
  }
}

/** The header has been checked against the file: tensors tile the data section exactly. */
function dataSize(header: SafetensorsHeader): number {
  let end = 0;
  for (const { dataOffsets } of header.tensors.values()) end = Math.max(end, dataOffsets[1]);
  return end;
}

function readAlphas(fd: number, header: SafetensorsHeader): Map<string, number> {
  const alphas = new Map<string, number>();
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    if (!name.endsWith('.alpha') || end - begin > 8 || end - begin === 0) continue;
    const data = Buffer.alloc(end - begin);
    readSync(fd, data, 0, data.length, header.dataStartBytes + begin);
    const value = alphaValue({ dtype: info.dtype, shape: info.shape, data });
    if (value !== undefined) alphas.set(name, value);
  }
  return alphas;
}

/** One pass over the file: whole-file sha256, data-section sha256, and the legacy 64 KiB window. */
function hashFile(fd: number, path: string, dataStartBytes: number, sizeBytes: number): FileHashes {
  const whole = createHash('sha256');
  const data = createHash('sha256');
  const legacy = createLegacyHasher();
  const chunk = Buffer.alloc(CHUNK_BYTES);
  for (let position = 0; position < sizeBytes; ) {
    const read = readSync(fd, chunk, 0, Math.min(CHUNK_BYTES, sizeBytes - position), position);
    if (read === 0)
      throw new LoraFileError(`ended at byte ${position} while being read`, {
        code: 'file_changed',
        culprit: path,
        hint: 'the file changed while it was read; try again',
      });
    const bytes = chunk.subarray(0, read);
    whole.update(bytes);
    if (position + read > dataStartBytes) data.update(bytes.subarray(Math.max(0, dataStartBytes - position)));
    legacy.update(bytes);
    position += read;
  }
  return { fileSha256: whole.digest('hex'), addnetSha256: data.digest('hex'), legacyHash: legacy.digest() };
}

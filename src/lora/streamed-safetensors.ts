// Rewrites tensors of an open .safetensors file into a new one without holding either file in memory: tensors
// are described by the header and read in 1 MiB chunks, twice (once to hash the data for `sshs_*`, once to write).
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { writeThroughTempFile } from '../fs/atomic-write.js';
import { LoraFileError } from './lora-file-error.js';
import { createLegacyHasher, fillPlaceholder, withSshsPlaceholders } from './sshs-hashes.js';
import {
  serializeSafetensorsHeader,
  writerOrder,
  type SafetensorsContent,
  type SafetensorsHeader,
  type Tensor,
  type TensorInfo,
} from './safetensors.js';

const CHUNK_BYTES = 1 << 20;
/** Tensors up to this size (alphas) are read at once: their values are needed, and they cost nothing. */
const SMALL_TENSOR_BYTES = 16;

interface SourceRange {
  position: number;
  length: number;
}

/** A file's tensors as SafetensorsContent whose large tensors have no bytes in memory, only where to read them. */
export interface LazySafetensors {
  content: SafetensorsContent;
  fd: number;
  fileName: string;
  rangeOf: (tensor: Tensor) => SourceRange | undefined;
}

/** Opens a file for reading; a missing path or a folder is a one-line LoraFileError. */
export function openSafetensors(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    throw new LoraFileError('no such file', { code: 'file_not_found', culprit: path, hint: 'check the path' });
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new LoraFileError('is a folder, not a .safetensors file', {
      code: 'not_a_file',
      culprit: path,
      hint: 'name the .safetensors file inside it',
    });
  }
  return fd;
}

export function lazySafetensors(fd: number, header: SafetensorsHeader, fileName: string): LazySafetensors {
  const ranges = new WeakMap<Tensor, SourceRange>();
  const tensors = new Map<string, Tensor>();
  for (const [name, info] of header.tensors) {
    const range = {
      position: header.dataStartBytes + info.dataOffsets[0],
      length: info.dataOffsets[1] - info.dataOffsets[0],
    };
    const isSmall = range.length <= SMALL_TENSOR_BYTES;
    const tensor: Tensor = {
      dtype: info.dtype,
      shape: info.shape,
      data: isSmall ? readRange({ fd, fileName }, range) : new Uint8Array(0),
    };
    if (!isSmall) ranges.set(tensor, range);
    tensors.set(name, tensor);
  }
  return { content: { metadata: header.metadata, tensors }, fd, fileName, rangeOf: (tensor) => ranges.get(tensor) };
}

export interface StreamedWrite {
  sizeBytes: number;
  /** `sshs_model_hash`: sha256 of the data section written. */
  modelHash: string;
  legacyHash: string;
}

/**
 * Writes `content` laid out like safetensors' own writer, with `sshs_model_hash` / `sshs_legacy_hash` first in the
 * metadata and true for the bytes written: the same file serializeWithSshsHashes (sshs-hashes.ts) makes in memory.
 * Tensors that `source` knows are copied from its file; the others come from their `data`.
 */
export function writeSafetensorsStreamed(
  path: string,
  content: SafetensorsContent,
  source: LazySafetensors,
): StreamedWrite {
  const ordered = [...content.tensors].sort(writerOrder);
  const layout = layoutOf(ordered, source);
  const head = serializeSafetensorsHeader(withSshsPlaceholders(content.metadata), layout);
  const { modelHash, legacyHash } = hashOutput(head, ordered, source);
  fillPlaceholder(head, 'sshs_model_hash', modelHash);
  fillPlaceholder(head, 'sshs_legacy_hash', legacyHash);
  const sizeBytes = writeThroughTempFile(path, (out) => {
    let written = writeAll(out, head);
    forEachChunk(ordered, source, (chunk) => (written += writeAll(out, chunk)));
    return written;
  });
  return { sizeBytes, modelHash, legacyHash };
}

function layoutOf(
  ordered: ReadonlyArray<readonly [string, Tensor]>,
  source: LazySafetensors,
): Array<[string, TensorInfo]> {
  let offset = 0;
  return ordered.map(([name, tensor]) => {
    const length = source.rangeOf(tensor)?.length ?? tensor.data.length;
    const info: TensorInfo = { dtype: tensor.dtype, shape: [...tensor.shape], dataOffsets: [offset, offset + length] };
    offset += length;
    return [name, info];
  });
}

/** One pass over what will be written: the data section's sha256 and A1111's legacy 64 KiB window. */
function hashOutput(
  head: Buffer,
  ordered: ReadonlyArray<readonly [string, Tensor]>,
  source: LazySafetensors,
): { modelHash: string; legacyHash: string } {
  const data = createHash('sha256');
  const legacy = createLegacyHasher();
  legacy.update(head);
  forEachChunk(ordered, source, (chunk) => {
    data.update(chunk);
    legacy.update(chunk);
  });
  return { modelHash: data.digest('hex'), legacyHash: legacy.digest() };
}

function forEachChunk(
  ordered: ReadonlyArray<readonly [string, Tensor]>,
  source: LazySafetensors,
  use: (chunk: Uint8Array) => void,
): void {
  const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  for (const [, tensor] of ordered) {
    const range = source.rangeOf(tensor);
    if (range === undefined) {
      use(tensor.data);
      continue;
    }
    for (let done = 0; done < range.length; ) {
      const chunk = readInto(source, buffer, {
        position: range.position + done,
        length: Math.min(CHUNK_BYTES, range.length - done),
      });
      use(chunk);
      done += chunk.length;
    }
  }
}

function readRange(source: Pick<LazySafetensors, 'fd' | 'fileName'>, range: SourceRange): Uint8Array {
  return readInto(source, Buffer.alloc(range.length), range);
}

function readInto(
  source: Pick<LazySafetensors, 'fd' | 'fileName'>,
  buffer: Buffer,
  { position, length }: SourceRange,
): Buffer {
  for (let done = 0; done < length; ) {
    const read = readSync(source.fd, buffer, done, length - done, position + done);
    if (read === 0) {
      throw new LoraFileError(`ended at byte ${position + done} while being read`, {
        code: 'file_changed',
        culprit: source.fileName,
        hint: 'the file changed while it was read; try again',
      });
    }
    done += read;
  }
  return buffer.subarray(0, length);
}

function writeAll(fd: number, bytes: Uint8Array): number {
  for (let offset = 0; offset < bytes.length; ) offset += writeSync(fd, bytes, offset, bytes.length - offset);
  return bytes.length;
}

// The safetensors format in memory: parse and validate a file's bytes, and lay out new files byte-for-byte like
// the reference writer. Pure: no fs here (safetensors-file.ts reads and writes).
import { LoraFileError } from './lora-file-error.js';

/** Bits per element, in the order of safetensors' `Dtype` enum (the writer sorts by this order, largest first). */
const DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

export type Dtype = keyof typeof DTYPE_BITS;

const DTYPE_ORDER = Object.keys(DTYPE_BITS) as Dtype[];

/** The reference reader and writer both refuse headers above this size (safetensors `MAX_HEADER_SIZE`). */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor as the header describes it; offsets are relative to the start of the data buffer. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  dataOffsets: [begin: number, end: number];
}

export interface SafetensorsHeader {
  /** N, the JSON header's length including its padding. */
  headerSizeBytes: number;
  /** 8 + N: where the data buffer starts in the file. */
  dataStartBytes: number;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
}

export interface Tensor {
  dtype: Dtype;
  shape: readonly number[];
  /** Raw little-endian, row-major bytes. When read from a file this is a view into the file's buffer. */
  data: Uint8Array;
}

export interface SafetensorsContent {
  /** String → string only; an empty record writes no `__metadata__` entry. */
  metadata: Readonly<Record<string, string>>;
  tensors: ReadonlyMap<string, Tensor>;
}

/** A parsed file: like SafetensorsContent, with each tensor's data a Buffer view (no copy). */
export interface SafetensorsFile {
  metadata: Record<string, string>;
  tensors: Map<string, Tensor & { data: Buffer }>;
}

export function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BITS, value);
}

/** Bytes a tensor of this dtype and shape occupies, or undefined for a sub-byte size that does not fill whole bytes. */
export function tensorSizeBytes(dtype: Dtype, shape: readonly number[]): bigint | undefined {
  // BigInt: a hostile shape like [2^40, 2^40] must not overflow into a plausible small number.
  const bits = shape.reduce((n, d) => n * BigInt(d), 1n) * BigInt(DTYPE_BITS[dtype]);
  return bits % 8n === 0n ? bits / 8n : undefined;
}

/**
 * Reads N from the first 8 bytes and checks it against the limits and the file size, before anyone allocates N bytes.
 * `fileName` is only used in error messages.
 */
export function readHeaderSize(first8: Uint8Array, fileSizeBytes: number, fileName: string): number {
  if (first8.length < 8 || fileSizeBytes < 8) {
    throw fileError(fileName, 'header_too_small', `${fileSizeBytes} bytes is too short for a safetensors file`);
  }
  const size = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (size > BigInt(MAX_HEADER_BYTES)) {
    throw fileError(fileName, 'header_too_large', `header claims ${size} bytes; the limit is ${MAX_HEADER_BYTES}`);
  }
  if (8n + size > BigInt(fileSizeBytes)) {
    throw fileError(
      fileName,
      'header_past_end',
      `header claims ${size} bytes but the file is only ${fileSizeBytes} bytes`,
    );
  }
  return Number(size);
}

/**
 * Parses and validates the header the way the reference reader does (docs/formats/safetensors.md §3).
 * `bytes` holds at least the first 8 + N bytes of a file of `fileSizeBytes` bytes.
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  fileName: string,
  fileSizeBytes = bytes.length,
): SafetensorsHeader {
  const headerSizeBytes = readHeaderSize(bytes.subarray(0, 8), fileSizeBytes, fileName);
  const json = decodeHeader(bytes.subarray(8, 8 + headerSizeBytes), fileName);
  const { metadata, tensors } = readHeaderEntries(json, fileName);
  checkTiling(tensors, fileSizeBytes - 8 - headerSizeBytes, fileName);
  return { headerSizeBytes, dataStartBytes: 8 + headerSizeBytes, metadata, tensors };
}

/** Parses a whole file held in memory; tensor data are views into `bytes`. */
export function parseSafetensors(bytes: Buffer, fileName: string): SafetensorsFile {
  const header = parseSafetensorsHeader(bytes, fileName);
  const tensors = new Map<string, Tensor & { data: Buffer }>();
  for (const [name, info] of header.tensors) {
    const [begin, end] = info.dataOffsets;
    const data = bytes.subarray(header.dataStartBytes + begin, header.dataStartBytes + end);
    tensors.set(name, { dtype: info.dtype, shape: info.shape, data });
  }
  return { metadata: header.metadata, tensors };
}

function decodeHeader(headerBytes: Uint8Array, fileName: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw fileError(fileName, 'header_not_utf8', 'header is not valid UTF-8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw fileError(fileName, 'header_not_json', `header is not JSON (${(error as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw fileError(fileName, 'header_not_object', 'header is not a JSON object');
  }
  // JSON.parse keeps the last of two equal keys; the spec forbids them, and a reader that kept the first would
  // see different tensors than we do.
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw fileError(fileName, 'duplicate_key', `key \`${duplicate}\` appears twice in the header`);
  }
  return parsed as Record<string, unknown>;
}

function readHeaderEntries(json: Record<string, unknown>, fileName: string) {
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  for (const [key, value] of Object.entries(json)) {
    if (key === '__metadata__') Object.assign(metadata, readMetadata(value, fileName));
    else tensors.set(key, readTensorInfo(key, value, fileName));
  }
  return { metadata, tensors };
}

function readMetadata(value: unknown, fileName: string): Record<string, string> {
  // The reference reader (Rust `Option<HashMap<String, String>>`) reads `null` as no metadata; Python opens such files.
  if (value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw fileError(fileName, 'metadata_not_strings', '`__metadata__` is not an object of strings');
  }
  for (const [key, entry] of Object.entries(value)) {
    if (typeof entry !== 'string') {
      throw fileError(
        fileName,
        'metadata_not_strings',
        `metadata \`${key}\` is ${JSON.stringify(entry)}, not a string`,
        'safetensors metadata values must be strings; JSON-encode structured values',
      );
    }
  }
  return value as Record<string, string>;
}

function readTensorInfo(name: string, value: unknown, fileName: string): TensorInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw fileError(
      fileName,
      'invalid_tensor_info',
      `tensor \`${name}\` is described by ${JSON.stringify(value)}, not an object`,
    );
  }
  const info = value as Record<string, unknown>;
  if (!isDtype(info.dtype)) {
    throw fileError(fileName, 'unknown_dtype', `tensor \`${name}\` has unknown dtype ${JSON.stringify(info.dtype)}`);
  }
  const shape = info.shape;
  if (!Array.isArray(shape) || !shape.every(isByteCount)) {
    throw fileError(
      fileName,
      'invalid_tensor_info',
      `tensor \`${name}\` has shape ${JSON.stringify(shape)}, not a list of non-negative integers`,
    );
  }
  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isByteCount)) {
    throw fileError(
      fileName,
      'invalid_tensor_info',
      `tensor \`${name}\` has data_offsets ${JSON.stringify(offsets)}, not [begin, end]`,
    );
  }
  return { dtype: info.dtype, shape: shape as number[], dataOffsets: [offsets[0] as number, offsets[1] as number] };
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Tensors must tile the data buffer exactly: sorted by offset, each starts where the previous ends. */
function checkTiling(tensors: Map<string, TensorInfo>, dataSizeBytes: number, fileName: string): void {
  const sorted = [...tensors].sort(
    ([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1],
  );
  let previous: { name: string; end: number } | undefined;
  for (const [
    name,
    {
      dtype,
      shape,
      dataOffsets: [begin, end],
    },
  ] of sorted) {
    const expectedBegin = previous?.end ?? 0;
    if (begin !== expectedBegin) throw offsetError(name, begin, previous, fileName);
    if (end < begin)
      throw fileError(
        fileName,
        'invalid_offset',
        `tensor \`${name}\` ends at byte ${end}, before it starts (${begin})`,
      );
    if (end > dataSizeBytes) {
      throw fileError(
        fileName,
        'tensor_past_end',
        `tensor \`${name}\` ends at byte ${end} but the file's data is ${dataSizeBytes} bytes`,
      );
    }
    checkTensorSize(name, dtype, shape, end - begin, fileName);
    previous = { name, end };
  }
  const used = previous?.end ?? 0;
  if (used !== dataSizeBytes) {
    throw fileError(fileName, 'trailing_bytes', `${dataSizeBytes - used} bytes follow the last tensor`);
  }
}

function offsetError(
  name: string,
  begin: number,
  previous: { name: string; end: number } | undefined,
  fileName: string,
) {
  if (previous === undefined) {
    return fileError(
      fileName,
      'offset_hole',
      `tensor \`${name}\` starts at byte ${begin}; the first tensor must start at 0`,
    );
  }
  const kind = begin > previous.end ? 'offset_hole' : 'offset_overlap';
  const what = kind === 'offset_hole' ? `leaving ${begin - previous.end} unused bytes` : 'overlapping it';
  return fileError(
    fileName,
    kind,
    `tensor \`${name}\` starts at byte ${begin} but \`${previous.name}\` ends at byte ${previous.end}, ${what}`,
  );
}

function checkTensorSize(name: string, dtype: Dtype, shape: number[], sizeBytes: number, fileName: string): void {
  const expected = tensorSizeBytes(dtype, shape);
  if (expected === undefined) {
    throw fileError(
      fileName,
      'misaligned_tensor',
      `tensor \`${name}\` (${dtype} ${JSON.stringify(shape)}) does not fill whole bytes`,
    );
  }
  if (expected !== BigInt(sizeBytes)) {
    throw fileError(
      fileName,
      'tensor_size_mismatch',
      `tensor \`${name}\` is ${dtype} ${JSON.stringify(shape)} (${expected} bytes) but its offsets span ${sizeBytes} bytes`,
    );
  }
}

/** The first key that appears twice in one JSON object, at any depth. `json` must already be valid JSON. */
export function findDuplicateKey(json: string): string | undefined {
  const open: Array<Set<string> | undefined> = []; // one entry per open object (a Set) or array (undefined)
  for (let i = 0; i < json.length; i++) {
    const char = json[i];
    if (char === '{') open.push(new Set());
    else if (char === '[') open.push(undefined);
    else if (char === '}' || char === ']') open.pop();
    else if (char === '"') {
      const end = stringEnd(json, i);
      const keys = open.at(-1);
      if (keys !== undefined && isFollowedByColon(json, end)) {
        const key = JSON.parse(json.slice(i, end)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end - 1;
    }
  }
  return undefined;
}

function isFollowedByColon(json: string, from: number): boolean {
  let i = from;
  while (json[i] === ' ' || json[i] === '\n' || json[i] === '\r' || json[i] === '\t') i++;
  return json[i] === ':';
}

/** Index just past the closing quote of the JSON string starting at `start`. */
function stringEnd(json: string, start: number): number {
  for (let i = start + 1; i < json.length; i++) {
    if (json[i] === '\\') i++;
    else if (json[i] === '"') return i + 1;
  }
  return json.length;
}

/**
 * Lays out a file exactly like safetensors' own writer (docs/formats/safetensors.md §2): tensors sorted by dtype
 * (larger alignment first) then name, compact JSON with `__metadata__` first, header padded with spaces to a
 * multiple of 8. Metadata keys keep their insertion order (the reference writer's order is undefined).
 */
export function serializeSafetensors({ metadata, tensors }: SafetensorsContent): Buffer {
  const ordered = [...tensors].sort(writerOrder);
  const parts: string[] = [];
  if (Object.keys(metadata).length > 0) parts.push(`"__metadata__":${metadataJson(metadata)}`);
  let offset = 0;
  for (const [name, tensor] of ordered) {
    checkWritable(name, tensor);
    const end = offset + tensor.data.length;
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${tensor.dtype}","shape":${JSON.stringify(tensor.shape)},"data_offsets":[${offset},${end}]}`,
    );
    offset = end;
  }
  const header = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const headerSizeBytes = Math.ceil(header.length / 8) * 8;
  if (headerSizeBytes > MAX_HEADER_BYTES) {
    throw new LoraFileError(`header would be ${headerSizeBytes} bytes; the limit is ${MAX_HEADER_BYTES}`, {
      code: 'header_too_large',
      culprit: '<new file>',
      hint: 'shrink the metadata (tag frequency, thumbnail)',
    });
  }
  const out = Buffer.alloc(8 + headerSizeBytes + offset, 0x20);
  out.writeBigUInt64LE(BigInt(headerSizeBytes), 0);
  header.copy(out, 8);
  let cursor = 8 + headerSizeBytes;
  for (const [, tensor] of ordered) {
    out.set(tensor.data, cursor);
    cursor += tensor.data.length;
  }
  return out;
}

/**
 * The 8-byte length and padded JSON header for tensors whose offsets are already decided (a file rewritten in
 * place order, like a merged checkpoint); the caller writes the data buffer after it.
 */
export function serializeSafetensorsHeader(
  metadata: Readonly<Record<string, string>>,
  tensors: Iterable<readonly [string, TensorInfo]>,
): Buffer {
  const parts: string[] = [];
  if (Object.keys(metadata).length > 0) parts.push(`"__metadata__":${metadataJson(metadata)}`);
  for (const [name, { dtype, shape, dataOffsets }] of tensors) {
    parts.push(
      `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":[${dataOffsets[0]},${dataOffsets[1]}]}`,
    );
  }
  const header = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const headerSizeBytes = Math.ceil(header.length / 8) * 8;
  if (headerSizeBytes > MAX_HEADER_BYTES) {
    throw new LoraFileError(`header would be ${headerSizeBytes} bytes; the limit is ${MAX_HEADER_BYTES}`, {
      code: 'header_too_large',
      culprit: '<new file>',
      hint: 'shrink the metadata',
    });
  }
  const out = Buffer.alloc(8 + headerSizeBytes, 0x20);
  out.writeBigUInt64LE(BigInt(headerSizeBytes), 0);
  header.copy(out, 8);
  return out;
}

/** The reference writer's tensor order: dtype (larger alignment first), then name as UTF-8 bytes. */
export function writerOrder(
  [nameA, a]: readonly [string, Pick<Tensor, 'dtype'>],
  [nameB, b]: readonly [string, Pick<Tensor, 'dtype'>],
): number {
  // Rust compares names as UTF-8 bytes; JS `<` compares UTF-16 units, which differs above U+FFFF.
  return (
    DTYPE_ORDER.indexOf(b.dtype) - DTYPE_ORDER.indexOf(a.dtype) ||
    Buffer.compare(Buffer.from(nameA), Buffer.from(nameB))
  );
}

function metadataJson(metadata: Readonly<Record<string, string>>): string {
  // Built by hand: JSON.stringify of an object would move integer-like keys ("1", "2") to the front.
  return `{${Object.entries(metadata)
    .map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`)
    .join(',')}}`;
}

function checkWritable(name: string, tensor: Tensor): void {
  if (name === '__metadata__') {
    throw new LoraFileError('`__metadata__` is reserved and cannot name a tensor', {
      code: 'reserved_name',
      culprit: name,
    });
  }
  if (!tensor.shape.every(isByteCount)) {
    throw new LoraFileError(`shape ${JSON.stringify(tensor.shape)} is not a list of non-negative integers`, {
      code: 'invalid_tensor_info',
      culprit: name,
    });
  }
  const expected = tensorSizeBytes(tensor.dtype, tensor.shape);
  if (expected !== BigInt(tensor.data.length)) {
    throw new LoraFileError(
      `${tensor.dtype} ${JSON.stringify(tensor.shape)} needs ${expected ?? 'a whole number of'} bytes but the data is ${tensor.data.length}`,
      { code: 'tensor_size_mismatch', culprit: name },
    );
  }
}

function fileError(fileName: string, code: string, message: string, hint?: string): LoraFileError {
  const fix = hint ?? 'the file is damaged or not a safetensors file; export or download it again';
  return new LoraFileError(message, { code, culprit: fileName, hint: fix });
}

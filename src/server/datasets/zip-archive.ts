// Pure: reads a zip archive held in memory — its central directory first (names, sizes, symlinks), then one entry at
// a time, stopped as soon as it inflates past the size it claimed, so a zip bomb costs at most that much memory.
import { Inflate } from 'fflate';
import type { ZipEntry } from '../security/index.js';
import { crc32 } from 'node:zlib';
import { DatasetRequestError } from './request-error.js';

/** A central-directory entry: what `checkZipEntries` reads, plus where its data is and how it is stored. */
export interface ZipArchiveEntry extends ZipEntry {
  compressedSize: number;
  /** 0 stored, 8 deflated; others are refused when read. */
  method: number;
  crc: number;
  isEncrypted: boolean;
  localHeaderOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_BYTES = 22;
const MAX_COMMENT_BYTES = 0xffff;
/** A field of all ones means "see the zip64 record": archives past 4 GiB or 65 535 entries, far over our limits. */
const ZIP64_MARK_32 = 0xffffffff;
const ZIP64_MARK_16 = 0xffff;
/** Made-by systems whose attributes carry a Unix mode in the high 16 bits (APPNOTE 4.4.2.2: 3 Unix, 19 OS X). */
const UNIX_HOSTS = new Set([3, 19]);
const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;
const DOS_DIRECTORY_BIT = 0x10;
const UTF8_NAME_FLAG = 0x800;
/** Compressed bytes fed to the inflater at a time: deflate expands at most ~1032×, so one push stays bounded. */
const INFLATE_INPUT_BYTES = 16 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: false });
const latin1 = new TextDecoder('latin1');

/** Every entry of the central directory, in order; a damaged or unsupported archive is a 400. */
export function readZipDirectory(zip: Uint8Array): ZipArchiveEntry[] {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const eocd = findEndOfDirectory(view);
  const entryCount = view.getUint16(eocd + 10, true);
  const directoryOffset = view.getUint32(eocd + 16, true);
  if (view.getUint16(eocd + 4, true) !== 0 || view.getUint16(eocd + 6, true) !== 0) {
    throw damaged('is split over several disks; make one zip file');
  }
  if (entryCount === ZIP64_MARK_16 || directoryOffset === ZIP64_MARK_32) {
    throw damaged('is a zip64 archive, larger than an upload may be; split it');
  }
  const entries: ZipArchiveEntry[] = [];
  let offset = directoryOffset;
  for (let index = 0; index < entryCount; index += 1) {
    const entry = readCentralEntry(zip, view, offset);
    entries.push(entry.entry);
    offset = entry.next;
  }
  return entries;
}

/**
 * The bytes of one file entry, checked against the size and CRC the directory claims. Writing stops as soon as the
 * output passes the claimed size: the directory is what the limits were checked against.
 */
export function readZipEntry(zip: Uint8Array, entry: ZipArchiveEntry): Uint8Array {
  if (entry.isEncrypted) throw badEntry(entry, 'is encrypted; zip the files without a password');
  const data = entryData(zip, entry);
  const content =
    entry.method === 0
      ? storedContent(data, entry)
      : entry.method === 8
        ? inflateBounded(data, entry)
        : unsupportedMethod(entry);
  if (crc32(content) !== entry.crc) throw badEntry(entry, 'does not match its checksum; the zip is damaged');
  return content;
}

function findEndOfDirectory(view: DataView): number {
  const last = view.byteLength - EOCD_BYTES;
  const first = Math.max(0, last - MAX_COMMENT_BYTES);
  for (let offset = last; offset >= first; offset -= 1) {
    if (view.getUint32(offset, true) === EOCD_SIGNATURE) return offset;
  }
  throw damaged('is not a zip archive (no end of central directory); send a `.zip` file');
}

function readCentralEntry(zip: Uint8Array, view: DataView, offset: number): { entry: ZipArchiveEntry; next: number } {
  if (offset + 46 > view.byteLength || view.getUint32(offset, true) !== CENTRAL_SIGNATURE) {
    throw damaged('has a damaged central directory');
  }
  const flags = view.getUint16(offset + 8, true);
  const nameBytes = view.getUint16(offset + 28, true);
  const next = offset + 46 + nameBytes + view.getUint16(offset + 30, true) + view.getUint16(offset + 32, true);
  if (next > view.byteLength) throw damaged('has a damaged central directory');
  const rawName = zip.subarray(offset + 46, offset + 46 + nameBytes);
  // Without the UTF-8 flag the name is in the DOS code page; latin1 keeps ASCII right and never fails.
  const name = (flags & UTF8_NAME_FLAG ? utf8 : latin1).decode(rawName);
  const compressedSize = view.getUint32(offset + 20, true);
  const uncompressedSize = view.getUint32(offset + 24, true);
  if (compressedSize === ZIP64_MARK_32 || uncompressedSize === ZIP64_MARK_32) {
    throw damaged('is a zip64 archive, larger than an upload may be; split it');
  }
  const host = view.getUint8(offset + 5);
  const attributes = view.getUint32(offset + 38, true);
  const mode = attributes >>> 16;
  const entry: ZipArchiveEntry = {
    name,
    uncompressedSize,
    compressedSize,
    isDirectory: name.endsWith('/') || (attributes & DOS_DIRECTORY_BIT) !== 0,
    isSymlink: UNIX_HOSTS.has(host) && (mode & S_IFMT) === S_IFLNK,
    method: view.getUint16(offset + 10, true),
    crc: view.getUint32(offset + 16, true),
    isEncrypted: (flags & 1) !== 0,
    localHeaderOffset: view.getUint32(offset + 42, true),
  };
  return { entry, next };
}

function entryData(zip: Uint8Array, entry: ZipArchiveEntry): Uint8Array {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const header = entry.localHeaderOffset;
  if (header + 30 > zip.byteLength || view.getUint32(header, true) !== LOCAL_SIGNATURE) {
    throw badEntry(entry, 'has no local header where the directory says; the zip is damaged');
  }
  const start = header + 30 + view.getUint16(header + 26, true) + view.getUint16(header + 28, true);
  const end = start + entry.compressedSize;
  if (end > zip.byteLength) throw badEntry(entry, 'runs past the end of the zip; the zip is truncated');
  return zip.subarray(start, end);
}

function storedContent(data: Uint8Array, entry: ZipArchiveEntry): Uint8Array {
  if (data.length !== entry.uncompressedSize) throw sizeMismatch(entry);
  return data;
}

function inflateBounded(data: Uint8Array, entry: ZipArchiveEntry): Uint8Array {
  const out = new Uint8Array(entry.uncompressedSize);
  let written = 0;
  const inflater = new Inflate((chunk) => {
    if (written + chunk.length > out.length) throw sizeMismatch(entry);
    out.set(chunk, written);
    written += chunk.length;
  });
  try {
    for (let offset = 0; offset < data.length; offset += INFLATE_INPUT_BYTES) {
      const end = Math.min(offset + INFLATE_INPUT_BYTES, data.length);
      inflater.push(data.subarray(offset, end), end === data.length);
    }
    if (data.length === 0) inflater.push(data, true);
  } catch (error) {
    if (error instanceof DatasetRequestError) throw error;
    throw badEntry(entry, `cannot be inflated (${(error as Error).message}); the zip is damaged`);
  }
  if (written !== out.length) throw sizeMismatch(entry);
  return out;
}

function unsupportedMethod(entry: ZipArchiveEntry): never {
  throw badEntry(entry, `uses compression method ${entry.method}; zip with the usual deflate (or store)`);
}

function sizeMismatch(entry: ZipArchiveEntry): DatasetRequestError {
  return badEntry(
    entry,
    `does not unpack to the ${entry.uncompressedSize} bytes it claims; the zip is damaged or hostile`,
  );
}

function damaged(why: string): DatasetRequestError {
  return new DatasetRequestError(400, why, { code: 'zip_damaged', culprit: 'the zip', field: 'body' });
}

function badEntry(entry: ZipArchiveEntry, why: string): DatasetRequestError {
  return new DatasetRequestError(400, why, {
    code: 'zip_entry_damaged',
    culprit: `zip entry ${JSON.stringify(entry.name)}`,
    field: 'body',
  });
}

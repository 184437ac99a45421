// The zip reader on archives fflate writes: the directory as checkZipEntries needs it, entries read back exactly, and
// damaged or hostile entries refused without inflating past the size they claim.
import { deflateSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { crc32 } from 'node:zlib';
import { readZipDirectory, readZipEntry } from './zip-archive.js';

const text = (value: string) => new TextEncoder().encode(value);

describe('readZipDirectory and readZipEntry', () => {
  it('lists entries with names, sizes and kinds, and reads stored and deflated entries back', () => {
    const big = text('jiangnan style '.repeat(1000));
    const zip = zipSync({ town: {}, 'town/a.txt': [text('a canal'), { level: 0 }], 'town/江南.txt': big });
    const entries = readZipDirectory(zip);
    expect(
      entries.map(({ name, isDirectory, isSymlink, uncompressedSize }) => ({
        name,
        isDirectory,
        isSymlink,
        uncompressedSize,
      })),
    ).toEqual([
      { name: 'town/', isDirectory: true, isSymlink: false, uncompressedSize: 0 },
      { name: 'town/a.txt', isDirectory: false, isSymlink: false, uncompressedSize: 7 },
      { name: 'town/江南.txt', isDirectory: false, isSymlink: false, uncompressedSize: big.length },
    ]);
    expect(entries[2]!.compressedSize).toBeLessThan(big.length);
    expect(readZipEntry(zip, entries[1]!)).toEqual(text('a canal'));
    expect(readZipEntry(zip, entries[2]!)).toEqual(big);
  });

  it('marks a Unix symlink entry', () => {
    const zip = zipSync({ link: [text('/etc/passwd'), { os: 3, attrs: (0o120777 << 16) >>> 0 }] });
    expect(readZipDirectory(zip)[0]).toMatchObject({ name: 'link', isSymlink: true });
  });

  it('stops an entry that inflates past its claimed size', () => {
    const zip = zipSync({ 'bomb.txt': new Uint8Array(1_000_000) });
    const entry = readZipDirectory(zip)[0]!;
    const error = catchError(() => readZipEntry(zip, { ...entry, uncompressedSize: 1000 }));
    expect(error).toMatchObject({ status: 400, code: 'zip_entry_damaged' });
    expect((error as Error).message).toContain('1000 bytes');
  });

  it('refuses an entry shorter than it claims, a bad checksum, and an unknown method', () => {
    const zip = zipSync({ 'a.txt': text('jiangnan style '.repeat(50)) });
    const entry = readZipDirectory(zip)[0]!;
    expect(
      catchError(() => readZipEntry(zip, { ...entry, uncompressedSize: entry.uncompressedSize + 1 })),
    ).toMatchObject({
      code: 'zip_entry_damaged',
    });
    expect(catchError(() => readZipEntry(zip, { ...entry, crc: (entry.crc + 1) >>> 0 }))).toMatchObject({
      code: 'zip_entry_damaged',
    });
    expect(catchError(() => readZipEntry(zip, { ...entry, method: 12 }))).toMatchObject({ code: 'zip_entry_damaged' });
    expect(catchError(() => readZipEntry(zip, { ...entry, isEncrypted: true }))).toMatchObject({
      code: 'zip_entry_damaged',
    });
  });

  it('refuses what is not a zip, and a truncated one', () => {
    expect(catchError(() => readZipDirectory(text('hello')))).toMatchObject({ status: 400, code: 'zip_damaged' });
    const zip = zipSync({ 'a.txt': text('a caption') });
    expect(catchError(() => readZipDirectory(zip.subarray(0, zip.length - 30)))).toMatchObject({ code: 'zip_damaged' });
    const entry = readZipDirectory(zip)[0]!;
    expect(catchError(() => readZipEntry(zip.subarray(0, 40), entry))).toMatchObject({ code: 'zip_entry_damaged' });
  });

  it('computes the CRC-32 zip uses', () => {
    expect(crc32(text('123456789'))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(deflateSync(text('x')).length).toBeGreaterThan(0);
  });
});

function catchError(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

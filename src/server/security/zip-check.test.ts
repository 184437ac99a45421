// checkZipEntries on central-directory entries as a zip reader would list them.
import { describe, expect, it } from 'vitest';
import { DEFAULT_ZIP_LIMITS } from './limits.js';
import { RequestRefused } from './refused.js';
import { checkZipEntries, type ZipEntry, type ZipLimits } from './zip-check.js';

const LIMITS: ZipLimits = { maxFiles: 5, maxTotalBytes: 1000, maxFileBytes: 400 };
const file = (name: string, uncompressedSize = 10): ZipEntry => ({
  name,
  uncompressedSize,
  isDirectory: false,
  isSymlink: false,
});
const folder = (name: string): ZipEntry => ({ name, uncompressedSize: 0, isDirectory: true, isSymlink: false });

function refusal(entries: ZipEntry[], limits = LIMITS): RequestRefused {
  try {
    checkZipEntries(entries, limits);
  } catch (error) {
    if (error instanceof RequestRefused) return error;
    throw error;
  }
  throw new Error('expected the zip to be refused');
}

describe('checkZipEntries: accepted', () => {
  it('returns the normalised relative name of each entry, in order', () => {
    const entries = [folder('cats/'), file('cats/001.png'), file('./cats//001.txt'), file('README.md')];
    expect(checkZipEntries(entries, LIMITS)).toEqual(['cats', 'cats/001.png', 'cats/001.txt', 'README.md']);
  });

  it('accepts a folder listed after files inside it, and the same folder twice', () => {
    expect(checkZipEntries([file('a/b.png'), folder('a/'), folder('a')], LIMITS)).toEqual(['a/b.png', 'a', 'a']);
  });

  it('accepts exactly the limits', () => {
    const entries = [file('a', 400), file('b', 400), file('c', 200), folder('d/'), folder('e/')];
    expect(checkZipEntries(entries, LIMITS)).toHaveLength(5);
  });

  it('accepts an empty zip', () => {
    expect(checkZipEntries([], LIMITS)).toEqual([]);
  });
});

describe('checkZipEntries: unsafe names', () => {
  it.each([
    ['../x', '`..` segment'],
    ['cats/../../x', '`..` segment'],
    ['/etc/cron.d/x', 'is absolute'],
    ['C:/Windows/x.dll', 'drive letter'],
    ['c:x', 'drive letter'],
    ['..\\x', 'backslash'],
    ['cats\\001.png', 'backslash'],
    ['a\0.png', 'NUL byte'],
    ['', 'is empty'],
    ['./', 'names no file or folder'],
  ])('refuses %j, naming the entry', (name, why) => {
    const error = refusal([file('ok.png'), file(name), file('../later')]);
    expect(error).toMatchObject({ status: 400, code: 'zip_entry_unsafe' });
    expect(error.culprit).toBe(`zip entry \`${JSON.stringify(name).slice(1, -1)}\``);
    expect(error.message).toContain(why);
  });

  it('refuses a symlink entry, even one with a harmless name', () => {
    const error = refusal([{ ...file('cats/link'), isSymlink: true }]);
    expect(error).toMatchObject({ code: 'zip_entry_unsafe' });
    expect(error.refusal.message).toBe('zip entry `cats/link`: is a symlink; zip the files themselves');
  });
});

describe('checkZipEntries: duplicate names', () => {
  it.each([
    [['a.png', 'a.png']],
    [['a.png', './a.png']],
    [['cats/a.png', 'cats//a.png']],
    [['A.png', 'a.png']],
    [['caf\u00e9.png', 'cafe\u0301.png']],
  ])('refuses %j as one file twice', (names) => {
    const error = refusal(names.map((name) => file(name)));
    expect(error).toMatchObject({ status: 400, code: 'zip_duplicate_name' });
    expect(error.culprit).toBe(`zip entry \`${names[1]}\``);
  });

  it('refuses a name that is both a file and a folder, in either order', () => {
    expect(refusal([file('a'), file('a/b.png')]).message).toContain('inside `a`, which is a file');
    expect(refusal([file('a/b.png'), file('a')]).message).toContain('a file and also a folder');
    expect(refusal([folder('a/'), file('a')])).toMatchObject({ code: 'zip_duplicate_name' });
    expect(refusal([file('a'), folder('a/')])).toMatchObject({ code: 'zip_duplicate_name' });
  });
});

describe('checkZipEntries: sizes and counts', () => {
  it('refuses too many entries with 413 before looking at names', () => {
    const error = refusal(Array.from({ length: 6 }, (_, index) => file(index === 5 ? '../x' : `${index}.png`)));
    expect(error).toMatchObject({ status: 413, code: 'zip_too_many_files' });
    expect(error.message).toBe('the zip has 6 entries, more than 5; split it');
  });

  it('refuses one file over the per-file limit, naming it', () => {
    const error = refusal([file('small.png'), file('huge.png', 401)]);
    expect(error).toMatchObject({ status: 413, code: 'zip_file_too_large', culprit: 'zip entry `huge.png`' });
    expect(error.message).toContain('401 bytes, more than 400');
  });

  it('refuses the entry that brings the total past the limit', () => {
    const error = refusal([file('a', 400), file('b', 400), file('c', 201)]);
    expect(error).toMatchObject({ status: 413, code: 'zip_too_large', culprit: 'zip entry `c`' });
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 64])('refuses a claimed size of %d', (size) => {
    expect(refusal([file('a', size)])).toMatchObject({ status: 400, code: 'zip_entry_unsafe' });
  });

  it('uses the default limits: 20 000 entries, 50 MiB a file', () => {
    expect(DEFAULT_ZIP_LIMITS).toEqual({
      maxFiles: 20_000,
      maxTotalBytes: 2 * 1024 ** 3,
      maxFileBytes: 50 * 1024 ** 2,
    });
    const many = Array.from({ length: 20_001 }, (_, index) => file(`${index}.png`, 1));
    expect(refusal(many, DEFAULT_ZIP_LIMITS)).toMatchObject({ code: 'zip_too_many_files' });
    expect(checkZipEntries(many.slice(1), DEFAULT_ZIP_LIMITS)).toHaveLength(20_000);
    expect(refusal([file('big.png', 50 * 1024 ** 2 + 1)], DEFAULT_ZIP_LIMITS)).toMatchObject({
      code: 'zip_file_too_large',
    });
  });
});

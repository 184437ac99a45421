// What an upload keeps and skips, and its limits, on plain names and sizes.
import { describe, expect, it } from 'vitest';
import { captionTextProblem, checkUploadedFiles, classifyUpload } from './upload-files.js';

const LIMITS = { maxFiles: 4, maxFileBytes: 100, maxTotalBytes: 250 };
const files = (...names: string[]) => names.map((name) => ({ name, sizeBytes: 10 }));

function refusal(action: () => unknown) {
  try {
    action();
  } catch (error) {
    return error as { status: number; code: string; line: string; field: string };
  }
  throw new Error('expected a refusal');
}

describe('checkUploadedFiles', () => {
  it('keeps folder paths, tidied', () => {
    expect(checkUploadedFiles(files('a.png', './sub//b.png', 'sub/c.txt'), LIMITS)).toEqual([
      'a.png',
      'sub/b.png',
      'sub/c.txt',
    ]);
  });

  it.each([
    '../a.png',
    '/a.png',
    'a/../../b.png',
    'a\\b.png',
    'C:/a.png',
    'a\u0001.png',
    `${'x'.repeat(256)}.png`,
    `${'deep/'.repeat(300)}a.png`,
    '.',
    '',
  ])('refuses %j with 400 naming it', (name) => {
    const error = refusal(() => checkUploadedFiles(files('ok.png', name), LIMITS));
    expect(error).toMatchObject({ status: 400, code: 'upload_path_unsafe', field: 'files' });
    expect(error.line).toContain(JSON.stringify(name));
  });

  it('refuses two files on one name, compared as case-insensitive file systems do', () => {
    expect(refusal(() => checkUploadedFiles(files('A.png', 'a.PNG'), LIMITS))).toMatchObject({
      code: 'upload_duplicate_name',
    });
    expect(refusal(() => checkUploadedFiles(files('a.png', 'a.png/b.png'), LIMITS))).toMatchObject({
      code: 'upload_duplicate_name',
    });
  });

  it('refuses too many files, a file too large and too much in all with 413', () => {
    expect(refusal(() => checkUploadedFiles(files('1', '2', '3', '4', '5'), LIMITS))).toMatchObject({
      status: 413,
      code: 'upload_too_many_files',
    });
    const large = refusal(() => checkUploadedFiles([{ name: 'big.png', sizeBytes: 101 }], LIMITS));
    expect(large).toMatchObject({ status: 413, code: 'upload_file_too_large' });
    expect(large.line).toContain('big.png');
    const many = [1, 2, 3].map((i) => ({ name: `${i}.png`, sizeBytes: 90 }));
    expect(refusal(() => checkUploadedFiles(many, LIMITS))).toMatchObject({ status: 413, code: 'upload_too_large' });
    expect(refusal(() => checkUploadedFiles([], LIMITS))).toMatchObject({ status: 400, code: 'upload_empty' });
  });
});

describe('classifyUpload', () => {
  it('keeps pictures of every extension the dataset reads, and .txt captions', () => {
    for (const path of ['a.png', 'b.JPG', 'c.jpeg', 'd.webp', 'e.bmp', 'f.tif', 'g.tiff', 'sub/h.png']) {
      expect(classifyUpload(path)).toEqual({ kind: 'image' });
    }
    expect(classifyUpload('sub/a.txt')).toEqual({ kind: 'caption' });
  });

  it('skips hidden and system files, metadata.csv and anything else, saying why', () => {
    expect(classifyUpload('.DS_Store')).toHaveProperty('skip', expect.stringContaining('hidden'));
    expect(classifyUpload('.git/a.png')).toHaveProperty('skip', expect.stringContaining('hidden'));
    expect(classifyUpload('__MACOSX/._a.png')).toHaveProperty('skip', expect.stringContaining('__MACOSX'));
    expect(classifyUpload('metadata.csv')).toHaveProperty('skip', expect.stringContaining('.txt'));
    expect(classifyUpload('notes.pdf')).toHaveProperty('skip', expect.stringContaining('not a picture'));
    expect(classifyUpload(`${'x'.repeat(256)}.png`)).toHaveProperty('skip', expect.stringContaining('longer'));
    expect(classifyUpload(`${'deep/'.repeat(300)}a.png`)).toHaveProperty('skip', expect.stringContaining('longer'));
    expect(classifyUpload('tab\there.png')).toHaveProperty('skip', expect.stringContaining('control'));
  });
});

describe('captionTextProblem', () => {
  it('takes UTF-8 and refuses other bytes', () => {
    expect(captionTextProblem(new TextEncoder().encode('江南 style'))).toBeNull();
    expect(captionTextProblem(Uint8Array.of(0xff, 0xfe, 0x41))).toContain('UTF-8');
  });
});

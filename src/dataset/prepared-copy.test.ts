// Names in the prepared folder: formats sharp writes, bucket folders inside kohya repeat folders, no clashes.
import { describe, expect, it } from 'vitest';
import { outputFormatOf, preparedPathOf, uniquePaths } from './prepared-copy.js';

describe('prepared copy names', () => {
  it('keeps JPEG, PNG and WebP and turns BMP and TIFF into PNG', () => {
    expect(
      ['a.JPG', 'b.jpeg', 'c.png', 'd.webp', 'e.bmp', 'f.tiff'].map((p) => [
        preparedPathOf(p, null),
        outputFormatOf(preparedPathOf(p, null)),
      ]),
    ).toEqual([
      ['a.JPG', 'jpeg'],
      ['b.jpeg', 'jpeg'],
      ['c.png', 'png'],
      ['d.webp', 'webp'],
      ['e.png', 'png'],
      ['f.png', 'png'],
    ]);
  });

  it('puts the bucket folder inside a kohya repeat folder, else first', () => {
    const bucket = { widthPx: 832, heightPx: 704 };
    expect(preparedPathOf('10_castle/a.jpg', bucket)).toBe('10_castle/832x704/a.jpg');
    expect(preparedPathOf('castle/a.jpg', bucket)).toBe('832x704/castle/a.jpg');
    expect(preparedPathOf('a.jpg', bucket)).toBe('832x704/a.jpg');
  });

  it('numbers clashing names, ignoring case', () => {
    expect(uniquePaths(['a.png', 'A.png', 'b.png', 'a.png'])).toEqual(['a.png', 'A-2.png', 'b.png', 'a-3.png']);
  });
});

import { describe, expect, it } from 'vitest';
import { metadataCsvText, parseMetadataCsv } from './captions.js';
import { assembleDataset, datasetDirs, repeatsOfFolder, tagFrequency } from './scan.js';

describe('parseMetadataCsv', () => {
  it('reads rows with and without a header, quoted commas and CRLF', () => {
    const withHeader = parseMetadataCsv('file_name,caption\r\na.png,"bridge, canal, mist"\r\nb.png,plain caption\r\n');
    expect(withHeader).toEqual([
      { fileName: 'a.png', caption: 'bridge, canal, mist', line: 2 },
      { fileName: 'b.png', caption: 'plain caption', line: 3 },
    ]);
    expect(parseMetadataCsv('a.png,x\n')).toEqual([{ fileName: 'a.png', caption: 'x', line: 1 }]);
  });

  it('reads back what metadataCsvText writes, quotes included', () => {
    const rows = [
      { fileName: 'a.png', caption: 'bridge, canal, "misty" morning' },
      { fileName: 'b b.png', caption: 'plain' },
    ];
    expect(metadataCsvText(rows)).toBe('file_name,caption\na.png,"bridge, canal, ""misty"" morning"\nb b.png,plain\n');
    expect(parseMetadataCsv(metadataCsvText(rows)).map(({ fileName, caption }) => ({ fileName, caption }))).toEqual(
      rows,
    );
  });

  it('keeps unquoted commas in the caption', () => {
    expect(parseMetadataCsv('a.png,bridge, canal\n')[0]?.caption).toBe('bridge, canal');
  });
});

describe('assembleDataset', () => {
  const images = [
    { relPath: 'a.png', repeats: 1 },
    { relPath: '10_town/b.png', repeats: 10 },
  ];

  it('pairs images with metadata rows', () => {
    const items = assembleDataset('/d', images, {
      kind: 'metadata',
      file: 'm.csv',
      rows: [
        { fileName: 'a.png', caption: 'x, y', line: 2 },
        { fileName: '10_town/b.png', caption: 'Y', line: 3 },
      ],
    });
    expect(items.map((i) => i.caption)).toEqual(['x, y', 'Y']);
    expect(tagFrequency(items)).toEqual({ '.': { x: 1, y: 1 }, '10_town': { y: 1 } });
    expect(datasetDirs(items)).toEqual({
      '.': { n_repeats: 1, img_count: 1 },
      '10_town': { n_repeats: 10, img_count: 1 },
    });
  });

  it('counts every uncaptioned image in one error, so one round of fixes is enough', () => {
    const three = [...images, { relPath: 'c.png', repeats: 1 }];
    expect(() => assembleDataset('/d', three, { kind: 'metadata', file: 'm.csv', rows: [] })).toThrow(
      expect.objectContaining({ line: '/d/a.png: image has no caption in m.csv — and 2 more: 10_town/b.png, c.png' }),
    );
    expect(() =>
      assembleDataset('/d', three, { kind: 'files', extension: '.txt', captions: new Map([['c.png', 'x']]) }),
    ).toThrow(
      expect.objectContaining({
        line: '/d/a.png: image has no `.txt` caption file and there is no metadata.csv — and 1 more image has no caption',
      }),
    );
  });

  it('names an image without a caption, a row without an image and an empty dataset', () => {
    expect(() =>
      assembleDataset('/d', images, {
        kind: 'metadata',
        file: 'm.csv',
        rows: [{ fileName: 'a.png', caption: 'x', line: 2 }],
      }),
    ).toThrow(expect.objectContaining({ line: '/d/10_town/b.png: image has no caption in m.csv' }));
    expect(() =>
      assembleDataset('/d', images, {
        kind: 'metadata',
        file: 'm.csv',
        rows: [{ fileName: 'c.png', caption: 'x', line: 4 }],
      }),
    ).toThrow(expect.objectContaining({ line: 'm.csv:4: `c.png` is not an image in /d' }));
    expect(() => assembleDataset('/d', [], { kind: 'files', extension: '.txt', captions: new Map() })).toThrow(
      expect.objectContaining({ code: 'dataset_empty' }),
    );
    expect(() =>
      assembleDataset('/d', images, { kind: 'files', extension: '.txt', captions: new Map([['a.png', 'x']]) }),
    ).toThrow(
      expect.objectContaining({
        line: '/d/10_town/b.png: image has no `.txt` caption file and there is no metadata.csv',
      }),
    );
  });

  it('reads kohya repeat folders', () => {
    expect(repeatsOfFolder('10_jiangnan')).toBe(10);
    expect(repeatsOfFolder('jiangnan')).toBe(1);
  });
});

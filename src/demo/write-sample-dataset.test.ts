import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { parseMetadataCsv, readDataset } from '../dataset/index.js';
import { UsageError } from '../errors.js';
import { drawScene } from './scenes.js';
import { sceneSeed } from './seeded-random.js';
import { STYLE_NAMES } from './styles.js';
import { writeSampleDataset } from './write-sample-dataset.js';

const freshDir = () => join(mkdtempSync(join(tmpdir(), 'demo-data-')), 'out');

describe('writeSampleDataset', () => {
  it('writes N PNGs and a metadata.csv whose captions match the drawn scenes', async () => {
    const dir = freshDir();
    const { files } = await writeSampleDataset({ dir, styles: ['jiangnan'], count: 5, seed: 3, sizePx: 64 });
    expect(files).toEqual([
      'jiangnan_000.png',
      'jiangnan_001.png',
      'jiangnan_002.png',
      'jiangnan_003.png',
      'jiangnan_004.png',
    ]);
    expect(readdirSync(dir).sort()).toEqual([...files, 'metadata.csv'].sort());
    expect(readFileSync(join(dir, 'metadata.csv'), 'utf8').split('\n')[0]).toBe('file_name,caption');
    const rows = parseMetadataCsv(readFileSync(join(dir, 'metadata.csv'), 'utf8'));
    expect(rows.map((r) => [r.fileName, r.caption])).toEqual(
      files.map((name, i) => [name, drawScene('jiangnan', sceneSeed(3, 'jiangnan', i), 64).caption]),
    );
    const { width, height, format } = await sharp(join(dir, files[0]!)).metadata();
    expect({ width, height, format }).toEqual({ width: 64, height: 64, format: 'png' });
    // What `lora-scripts train` reads: the dataset stage accepts the folder as it is.
    const items = await readDataset({
      dataDir: dir,
      metadataPath: join(dir, 'metadata.csv'),
      captionExtension: '.txt',
    });
    expect(items.map((item) => item.caption)).toEqual(rows.map((r) => r.caption));
  });

  it('writes byte-identical files for the same seed', async () => {
    const [a, b] = [freshDir(), freshDir()];
    for (const dir of [a, b]) await writeSampleDataset({ dir, styles: ['neon_night'], count: 2, seed: 9, sizePx: 64 });
    for (const name of ['neon_night_000.png', 'neon_night_001.png', 'metadata.csv'])
      expect(readFileSync(join(a, name)).equals(readFileSync(join(b, name)))).toBe(true);
  });

  it('puts every style in one folder for `all`, and a smaller re-run leaves no stale images', async () => {
    const dir = freshDir();
    await writeSampleDataset({ dir, styles: STYLE_NAMES, count: 2, seed: 0, sizePx: 32 });
    expect(parseMetadataCsv(readFileSync(join(dir, 'metadata.csv'), 'utf8')).map((r) => r.fileName)).toEqual(
      STYLE_NAMES.flatMap((s) => [`${s}_000.png`, `${s}_001.png`]),
    );
    await writeSampleDataset({ dir, styles: ['generic'], count: 1, seed: 0, sizePx: 32 });
    expect(readdirSync(dir).sort()).toEqual(['generic_000.png', 'metadata.csv']);
  });

  it('refuses a folder holding files it did not write, and leaves them untouched', async () => {
    const dir = freshDir();
    await writeSampleDataset({ dir, styles: ['jiangnan'], count: 1, seed: 0, sizePx: 32 });
    writeFileSync(join(dir, 'holiday.jpg'), 'my photo');
    await expect(writeSampleDataset({ dir, styles: ['jiangnan'], count: 1, seed: 0, sizePx: 32 })).rejects.toThrow(
      UsageError,
    );
    await expect(
      writeSampleDataset({ dir, styles: ['jiangnan'], count: 1, seed: 0, sizePx: 32 }),
    ).rejects.toMatchObject({
      line: `${join(dir, 'holiday.jpg')}: the output folder holds files that \`demo-data\` did not write`,
    });
    expect(readFileSync(join(dir, 'holiday.jpg'), 'utf8')).toBe('my photo');
    const captioned = freshDir();
    await writeSampleDataset({ dir: captioned, styles: ['jiangnan'], count: 1, seed: 0, sizePx: 32 });
    writeFileSync(join(captioned, 'metadata.csv'), 'file_name,caption\nphoto.png,"my caption"\n');
    await expect(
      writeSampleDataset({ dir: captioned, styles: ['jiangnan'], count: 1, seed: 0, sizePx: 32 }),
    ).rejects.toMatchObject({ culprit: `${join(captioned, 'metadata.csv')}:2` });
    expect(readFileSync(join(captioned, 'metadata.csv'), 'utf8')).toBe('file_name,caption\nphoto.png,"my caption"\n');
  });

  it('names the flag when a number is out of range', async () => {
    await expect(
      writeSampleDataset({ dir: freshDir(), styles: ['jiangnan'], count: 0, seed: 0, sizePx: 64 }),
    ).rejects.toMatchObject({ line: '--count: expected a whole number from 1 to 100000, got `0`' });
    await expect(
      writeSampleDataset({ dir: freshDir(), styles: ['jiangnan'], count: 1, seed: 0, sizePx: Number.NaN }),
    ).rejects.toMatchObject({ line: '--size: expected a whole number from 16 to 2048, got `NaN`' });
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { readDataset } from './index.js';

describe('readDataset', () => {
  it('names every unreadable image in one error, the first as the culprit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'read-'));
    const png = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#336699' } })
      .png()
      .toBuffer();
    writeFileSync(join(dir, 'a.png'), png);
    for (const name of ['b.png', 'c.png']) writeFileSync(join(dir, name), png.subarray(0, png.length - 40));
    writeFileSync(join(dir, 'metadata.csv'), 'file_name,caption\na.png,x\nb.png,y\nc.png,z\n');
    await expect(
      readDataset({ dataDir: dir, metadataPath: join(dir, 'metadata.csv'), captionExtension: '.txt' }),
    ).rejects.toMatchObject({
      code: 'image_unreadable',
      culprit: join(dir, 'b.png'),
      message: expect.stringMatching(/^cannot be read as an image \(.+\) — and 1 more: c\.png$/),
      hint: 're-export these pictures as PNG or JPEG, or move them out of `train_data_dir`',
    });
    expect(readFileSync(join(dir, 'a.png'))).toEqual(png); // reading never changes a picture
  });
});

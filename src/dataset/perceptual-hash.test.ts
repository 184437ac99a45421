import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { drawScene } from '../demo/index.js';
import { hashDistance, readPerceptualHash } from './index.js';

describe('perceptual hash', () => {
  it('keeps a resized, re-encoded copy close and tells different scenes apart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'phash-'));
    const original = join(dir, 'a.png');
    await sharp(Buffer.from(drawScene('jiangnan', 1, 128).svg))
      .png()
      .toFile(original);
    const copy = join(dir, 'a-small.jpg');
    await sharp(original).resize(96, 96).jpeg({ quality: 70 }).toFile(copy);
    const other = join(dir, 'b.png');
    await sharp(Buffer.from(drawScene('desert_town', 2, 128).svg))
      .png()
      .toFile(other);
    const [a, b, c] = await Promise.all([
      readPerceptualHash(original),
      readPerceptualHash(copy),
      readPerceptualHash(other),
    ]);
    expect(a).toMatch(/^[0-9a-f]{16}$/);
    expect(hashDistance(a, b)).toBeLessThanOrEqual(6);
    expect(hashDistance(a, c)).toBeGreaterThan(12);
    expect(hashDistance(a, a)).toBe(0);
  });
});

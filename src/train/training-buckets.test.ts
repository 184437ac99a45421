import { describe, expect, it } from 'vitest';
import { manifestText } from '../dataset/manifest.js';
import type { MeasuredItem } from '../dataset/read.js';
import { describeBuckets, trainingBuckets } from './training-buckets.js';

const square = { width: 512, height: 512 };
const wide = { width: 900, height: 540 };
const smallWide = { width: 300, height: 180 };

describe('trainingBuckets', () => {
  it('auto: squares only when every picture has one shape, buckets when they differ', () => {
    expect(trainingBuckets([square, square], { mode: 'auto', resolutionPx: 256, maxUpscale: 1.5 })).toBeNull();
    const buckets = trainingBuckets([square, wide], { mode: 'auto', resolutionPx: 256, maxUpscale: 1.5 });
    expect(buckets).toEqual([
      { widthPx: 256, heightPx: 256 },
      { widthPx: 320, heightPx: 192 },
    ]);
  });

  it('on buckets even one shape; off and an unknown resolution never do', () => {
    expect(trainingBuckets([wide], { mode: 'on', resolutionPx: 256, maxUpscale: 1.5 })).toEqual([
      { widthPx: 320, heightPx: 192 },
    ]);
    expect(trainingBuckets([square, wide], { mode: 'off', resolutionPx: 256, maxUpscale: 1.5 })).toBeNull();
    expect(trainingBuckets([square, wide], { mode: 'on', resolutionPx: null, maxUpscale: 1.5 })).toBeNull();
  });

  it('a small picture goes to a smaller bucket of its shape instead of being blown up past the limit', () => {
    const [bucket] = trainingBuckets([smallWide, square], { mode: 'auto', resolutionPx: 512, maxUpscale: 1.2 })!;
    expect(bucket!.widthPx / bucket!.heightPx).toBeCloseTo(640 / 384, 1);
    expect(Math.max(bucket!.widthPx / 300, bucket!.heightPx / 180)).toBeLessThanOrEqual(1.2);
  });

  it('describes the buckets largest group first', () => {
    const buckets = [
      { widthPx: 320, heightPx: 192 },
      { widthPx: 256, heightPx: 256 },
      { widthPx: 256, heightPx: 256 },
    ];
    expect(describeBuckets(buckets)).toBe('256×256 ×2, 320×192 ×1');
  });
});

describe('manifestText', () => {
  it('writes each row its bucket as [width, height], and no bucket key without buckets', () => {
    const items = [
      { path: '/d/a.png', caption: 'a', width: 900, height: 540, repeats: 1 },
    ] as unknown as MeasuredItem[];
    expect(JSON.parse(manifestText(items, [{ widthPx: 320, heightPx: 192 }]).trim()).bucket).toEqual([320, 192]);
    expect(JSON.parse(manifestText(items).trim())).not.toHaveProperty('bucket');
  });
});

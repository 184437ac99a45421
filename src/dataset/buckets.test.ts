// Bucket invariants: area, 64 px steps, aspect limit, mirror symmetry; assignment by closest aspect and the upscale cap.
import { describe, expect, it } from 'vitest';
import { assignBucket, makeBuckets } from './buckets.js';

describe('makeBuckets', () => {
  it.each([512, 768, 1024])(
    'at %i px: within the area, in 64 px steps, at most 2:1, mirrored, with the square',
    (resolutionPx) => {
      const buckets = makeBuckets({ resolutionPx });
      const names = new Set(buckets.map((b) => `${b.widthPx}x${b.heightPx}`));
      expect(names.has(`${resolutionPx}x${resolutionPx}`)).toBe(true);
      for (const b of buckets) {
        expect(b.widthPx * b.heightPx).toBeLessThanOrEqual(resolutionPx ** 2);
        expect((b.widthPx % 64) + (b.heightPx % 64)).toBe(0);
        expect(Math.max(b.widthPx / b.heightPx, b.heightPx / b.widthPx)).toBeLessThanOrEqual(2);
        expect(names.has(`${b.heightPx}x${b.widthPx}`)).toBe(true);
        // each bucket is the biggest of its width (or, mirrored, of its height): one more step would not fit
        expect(Math.max((b.widthPx + 64) * b.heightPx, b.widthPx * (b.heightPx + 64))).toBeGreaterThan(
          resolutionPx ** 2,
        );
      }
    },
  );

  it('gives the 1024 px list SDXL trainers use around 16:9 and 2:1', () => {
    const names = makeBuckets({ resolutionPx: 1024 }).map((b) => `${b.widthPx}x${b.heightPx}`);
    expect(names).toEqual(expect.arrayContaining(['1344x768', '1408x704', '768x1344', '1024x1024', '1152x896']));
    expect(names.indexOf('704x1408')).toBe(0);
    expect(names.at(-1)).toBe('1408x704');
  });

  it('has only the square at 64 px (the demo size) and follows maxAspect', () => {
    expect(makeBuckets({ resolutionPx: 64 })).toEqual([{ widthPx: 64, heightPx: 64 }]);
    expect(
      makeBuckets({ resolutionPx: 1024, maxAspect: 1.2 }).every(
        (b) => Math.max(b.widthPx / b.heightPx, b.heightPx / b.widthPx) <= 1.2,
      ),
    ).toBe(true);
  });
});

describe('assignBucket', () => {
  const buckets = makeBuckets({ resolutionPx: 1024 });

  it('picks the closest aspect ratio, wide and tall alike', () => {
    expect(assignBucket(buckets, 1920, 1080).bucket).toEqual({ widthPx: 1344, heightPx: 768 });
    expect(assignBucket(buckets, 1080, 1920).bucket).toEqual({ widthPx: 768, heightPx: 1344 });
    expect(assignBucket(buckets, 3000, 3000).bucket).toEqual({ widthPx: 1024, heightPx: 1024 });
    expect(assignBucket(buckets, 6000, 1000).bucket).toEqual({ widthPx: 1408, heightPx: 704 });
  });

  it('reports the scale and how much of the picture the crop keeps', () => {
    const choice = assignBucket(buckets, 2048, 2048);
    expect(choice.scale).toBe(0.5);
    expect(choice.keptFraction).toBe(1);
    expect(assignBucket(buckets, 4000, 1000).keptFraction).toBeCloseTo(2 / 4, 5);
  });

  it('shrinks the bucket instead of upscaling past maxUpscale', () => {
    const choice = assignBucket(buckets, 600, 600, { maxUpscale: 1 });
    expect(choice.bucket).toEqual({ widthPx: 576, heightPx: 576 });
    expect(choice.scale).toBeLessThanOrEqual(1);
    expect(assignBucket(buckets, 600, 600).bucket).toEqual({ widthPx: 1024, heightPx: 1024 });
  });
});

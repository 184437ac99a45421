// Rule `aspect-ratio`: panoramas and strips. Cropped to the training shape they lose most of the picture.
import { assignBucket, keptFractionOfCrop } from '../buckets.js';
import type { QualityRule } from '../findings.js';

export const aspectRatioRule: QualityRule = {
  name: 'aspect-ratio',
  summary: 'unusual aspect ratios (long side ÷ short side above `maxAspect`), a warning',
  check: (records, { thresholds, buckets }) =>
    records.flatMap((record) => {
      if (record.unreadable !== null) return [];
      const ratio = Math.max(record.width, record.height) / Math.min(record.width, record.height);
      if (ratio <= thresholds.maxAspect) return [];
      const kept = buckets
        ? assignBucket(buckets, record.width, record.height).keptFraction
        : keptFractionOfCrop(record.width, record.height, { widthPx: 1, heightPx: 1 });
      const crop = buckets ? 'the closest bucket' : 'a square crop';
      return [
        {
          image: record.image,
          rule: 'aspect-ratio',
          severity: 'warn' as const,
          message: `${ratio.toFixed(1)}:1 is an unusual aspect ratio: ${crop} keeps ${Math.round(kept * 100)} % of the picture`,
          hint: 'crop it by hand to the part that matters, or split it into two pictures',
        },
      ];
    }),
};

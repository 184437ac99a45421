// Rule `resolution`: pictures smaller than the training size. Upscaled pixels add no detail, only blur.
import { assignBucket, coverScale } from '../buckets.js';
import type { CheckOptions, Finding, ImageRecord, QualityRule } from '../findings.js';

function upscaleNeeded(
  record: ImageRecord,
  options: CheckOptions,
  targetPx: number,
): { scale: number; target: string } {
  if (options.buckets) {
    const { bucket, scale } = assignBucket(options.buckets, record.width, record.height);
    return { scale, target: `its ${bucket.widthPx}×${bucket.heightPx} bucket` };
  }
  return {
    scale: coverScale(record.width, record.height, { widthPx: targetPx, heightPx: targetPx }),
    target: `${targetPx} px`,
  };
}

export const resolutionRule: QualityRule = {
  name: 'resolution',
  summary: 'pictures smaller than the training size (excluded past `maxUpscale`, else a warning)',
  check: (records, options) => {
    const { targetPx } = options;
    if (targetPx === null) return [];
    const findings: Finding[] = [];
    for (const record of records) {
      if (record.unreadable !== null) continue;
      const { scale, target } = upscaleNeeded(record, options, targetPx);
      // 2 % of slack: a 760 px picture for a 768 target is not worth a line.
      if (scale <= 1.02) continue;
      const isTooSmall = scale > options.thresholds.maxUpscale;
      findings.push({
        image: record.image,
        rule: 'resolution',
        severity: isTooSmall ? 'exclude' : 'warn',
        message: `${record.width}×${record.height} px needs ${scale.toFixed(2)}× upscaling to ${target}${isTooSmall ? ` (limit ${options.thresholds.maxUpscale}×)` : ''}`,
        hint: 'use a larger original, or train at a lower resolution',
      });
    }
    return findings;
  },
};

// Rule `sharpness`: blurry pictures (out of focus, motion blur, heavy upscaling). The LoRA learns the blur as style.
import type { QualityRule } from '../findings.js';

export const sharpnessRule: QualityRule = {
  name: 'sharpness',
  summary: 'blurry pictures: Laplacian variance ÷ brightness variance below `minSharpness`',
  check: (records, { thresholds }) =>
    records.flatMap((record) =>
      record.stats !== null && record.stats.sharpness < thresholds.minSharpness
        ? [
            {
              image: record.image,
              rule: 'sharpness',
              severity: 'exclude' as const,
              message: `blurry: sharpness ${record.stats.sharpness.toFixed(4)} (below ${thresholds.minSharpness})`,
              hint: 'replace it with a sharper shot; a blurry picture teaches the LoRA to blur',
            },
          ]
        : [],
    ),
};

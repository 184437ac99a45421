// Rule `missing-caption`: pictures without a caption while others have one. `train` stops on them, so `prepare`
// names them all at once. A folder with no captions at all is reported once, not per picture.
import type { CaptionRule } from '../findings.js';

export const missingCaptionRule: CaptionRule = {
  name: 'missing-caption',
  summary: 'pictures without a caption when others have one',
  check: (records) => {
    if (!records.some((record) => record.caption !== null)) return [];
    return records
      .filter((record) => record.caption === null)
      .map((record) => ({
        image: record.image,
        rule: 'missing-caption',
        severity: 'warn' as const,
        message: 'has no caption (no metadata.csv row and no caption file)',
        hint: '`train` stops on uncaptioned pictures: write one, or let `lora-scripts auto-label` draft it',
      }));
  },
};

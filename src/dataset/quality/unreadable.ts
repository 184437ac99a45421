// Rule `unreadable`: files that do not decode, or stop early (a cut-off download, a broken copy).
import type { QualityRule } from '../findings.js';

export const unreadableRule: QualityRule = {
  name: 'unreadable',
  summary: 'files that do not decode or are truncated',
  check: (records) =>
    records
      .filter((record) => record.unreadable !== null)
      .map((record) => ({
        image: record.image,
        rule: 'unreadable',
        severity: 'exclude',
        message: `cannot be read as an image (${record.unreadable})`,
        hint: 're-export the picture as PNG or JPEG, or delete it',
      })),
};

// Rule `duplicate-caption`: one caption on many pictures, usually a template or a copy-paste slip ("a photo of sks
// dog" × 50). The text encoder cannot tell them apart, so the caption stops describing anything but the style. Two
// pictures that happen to share an accurate caption are left alone (the sample scenes have such pairs).
import type { CaptionRule, Finding } from '../findings.js';

function normalise(caption: string): string {
  return caption
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .replace(/\s*,\s*/g, ',')
    .trim();
}

export const duplicateCaptionRule: CaptionRule = {
  name: 'duplicate-caption',
  summary: 'one caption on `duplicateCaptionCount` or more pictures (each repeat names the first)',
  check: (records, { thresholds }) => {
    const groups = new Map<string, string[]>();
    for (const record of records) {
      if (record.caption === null || record.caption.trim() === '') continue;
      const key = normalise(record.caption);
      groups.set(key, [...(groups.get(key) ?? []), record.image]);
    }
    const findings: Finding[] = [];
    for (const [first, ...repeats] of groups.values()) {
      if (repeats.length + 1 < thresholds.duplicateCaptionCount) continue;
      for (const image of repeats) {
        findings.push({
          image,
          rule: 'duplicate-caption',
          severity: 'warn',
          message: `same caption as ${first} (${repeats.length + 1} pictures share it)`,
          hint: 'describe what differs in each picture (subject, time of day, weather, details)',
        });
      }
    }
    return findings;
  },
};

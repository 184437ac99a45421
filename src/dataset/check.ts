// Runs every quality and caption rule, pure: records in, sorted findings out, plus which images they exclude.
import { sortFindings, type CheckOptions, type Finding, type ImageRecord } from './findings.js';
import { CAPTION_RULES } from './lint/index.js';
import { QUALITY_RULES } from './quality/index.js';

/** Every quality rule, then every caption rule, worst findings first. */
export function checkImages(records: readonly ImageRecord[], options: CheckOptions): Finding[] {
  return sortFindings([...QUALITY_RULES, ...CAPTION_RULES].flatMap((rule) => rule.check(records, options)));
}

/** Images with an `exclude` or `block` finding: what `prepare` leaves out. */
export function excludedImages(findings: readonly Finding[]): Set<string> {
  return new Set(findings.filter((finding) => finding.severity !== 'warn').map((finding) => finding.image));
}

/** `{ sharpness: 3, 'vague-words': 1 }`, rules in first-seen order. */
export function countByRule(findings: readonly Finding[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const finding of findings) counts[finding.rule] = (counts[finding.rule] ?? 0) + 1;
  return counts;
}

/** Every rule with its one-line summary, for `--help` and the README. */
export const RULE_SUMMARIES: readonly { name: string; summary: string }[] = [...QUALITY_RULES, ...CAPTION_RULES].map(
  ({ name, summary }) => ({ name, summary }),
);

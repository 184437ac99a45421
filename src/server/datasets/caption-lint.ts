// Pure: lints one caption as the user types it, with the dataset's own caption rules (src/dataset/lint/) in the
// context of the other captions (duplicates) and the trigger word, plus its CLIP token count.
import {
  CLIP_CONTENT_TOKENS,
  type CaptionRecord,
  type ClipBpe,
  countClipTokens,
  DEFAULT_THRESHOLDS,
  type Severity,
} from '../../dataset/index.js';
import { CAPTION_RULES } from '../../dataset/lint/index.js';

export type LintSeverity = 'error' | 'warning' | 'info';

export interface LintFinding {
  rule: string;
  severity: LintSeverity;
  message: string;
  hint: string;
}

export interface CaptionLint {
  findings: LintFinding[];
  tokens: { count: number; limit: number };
}

export interface CaptionLintInput {
  caption: string;
  /** The picture the caption belongs to; null for a draft not tied to one. */
  file: string | null;
  /** The dataset's captions as saved, picture by picture (the edited one is replaced by `caption`). */
  captions: readonly CaptionRecord[];
  triggerWord: string | null;
  bpe: ClipBpe;
}

/** A rule's `block` and `exclude` keep a picture out of training; `warn` is advice. */
const SEVERITY: Record<Severity, LintSeverity> = { block: 'error', exclude: 'error', warn: 'warning' };

/**
 * The rules that compare a caption with the others; every other rule judges each caption alone. The test beside this
 * file checks the list against running every rule on every caption, so a new comparing rule cannot be missed.
 */
export const ACROSS_CAPTIONS: ReadonlySet<string> = new Set(['duplicate-caption', 'missing-caption']);

/** Names the draft so no picture in the dataset can be mistaken for it. */
const DRAFT = '\u0000draft';

export function lintCaption(input: CaptionLintInput): CaptionLint {
  const target = input.file ?? DRAFT;
  // Last, so the duplicate rule (which names the first of a group and flags the rest) flags the edited caption.
  const records = [
    ...input.captions.filter((record) => record.image !== target),
    { image: target, caption: input.caption },
  ];
  const options = {
    thresholds: DEFAULT_THRESHOLDS,
    targetPx: null,
    buckets: null,
    triggerWord: input.triggerWord,
    bpe: input.bpe,
  };
  const alone = records.slice(-1);
  // Called as the user types, on datasets of thousands: a rule that judges each caption alone runs on this one only.
  const findings = CAPTION_RULES.flatMap((rule) =>
    rule.check(ACROSS_CAPTIONS.has(rule.name) ? records : alone, options),
  )
    .filter((finding) => finding.image === target)
    .map(({ rule, severity, message, hint }) => ({ rule, severity: SEVERITY[severity], message, hint }));
  return { findings, tokens: { count: countClipTokens(input.bpe, input.caption), limit: CLIP_CONTENT_TOKENS } };
}

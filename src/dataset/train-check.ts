// The checks `train` runs before it starts: `prepare`'s rules on the images `readDataset` already decoded (no second
// decode), with the config's `resolution` as the target. Blocking findings stop the run with one error; the rest
// become one warning block, not a line per image.
import { DatasetError } from '../errors.js';
import { checkImages } from './check.js';
import { namedFew } from './name-list.js';
import { readClipBpe } from './clip-tokenizer-files.js';
import { DEFAULT_THRESHOLDS, type Finding, type ImageRecord } from './findings.js';
import type { MeasuredItem } from './read.js';

export interface TrainCheckOptions {
  dataDir: string;
  /** The config's `resolution`; `null` (the base model's native size, not known yet) skips the resolution rule. */
  resolutionPx: number | null;
  /** The shipped CLIP tokenizer folder; `null` skips the caption-length rule. */
  tokenizerDir: string | null;
}

const IMAGES_NAMED = 3;

export function trainingRecords(items: readonly MeasuredItem[]): ImageRecord[] {
  return items.map((item) => ({ image: item.relPath, caption: item.caption, ...item.quality }));
}

/** One line per rule: how many, the first message, and the first few images. */
export function warningBlock(findings: readonly Finding[], imageCount: number): string {
  const byRule = new Map<string, Finding[]>();
  for (const finding of findings) byRule.set(finding.rule, [...(byRule.get(finding.rule) ?? []), finding]);
  const images = new Set(findings.map((f) => f.image)).size;
  const lines = [
    `warning: the dataset check found ${findings.length} ${findings.length === 1 ? 'problem' : 'problems'} in ${images} of ${imageCount} images (training goes on):`,
  ];
  for (const [rule, list] of byRule) {
    const named = namedFew(
      list.map((f) => f.image),
      IMAGES_NAMED,
    );
    lines.push(`  ${rule} ×${list.length}: ${list[0]!.message} (${named})`);
  }
  lines.push(
    'hint: `lora-scripts prepare <train_data_dir> --out <folder>` shows each one with its picture and writes a copy without the worst',
  );
  return lines.join('\n');
}

/** Every finding of the checks `train` runs, blocking or not (the studio's pre-flight lists them one by one). */
export function trainingFindings(items: readonly MeasuredItem[], options: TrainCheckOptions): Finding[] {
  return checkImages(trainingRecords(items), {
    thresholds: DEFAULT_THRESHOLDS,
    targetPx: options.resolutionPx,
    buckets: null,
    // `train` puts `trigger_word` in front of every caption that lacks it: nothing to warn about.
    triggerWord: null,
    bpe: options.tokenizerDir === null ? null : readClipBpe(options.tokenizerDir),
  });
}

/** Throws on a blocking finding; returns the warning block, or `null` when nothing was found. */
export function checkTrainingDataset(items: readonly MeasuredItem[], options: TrainCheckOptions): string | null {
  const findings = trainingFindings(items, options);
  const blocking = findings.filter((f) => f.severity === 'block');
  if (blocking.length > 0) {
    const first = blocking[0]!;
    const more =
      blocking.length > 1
        ? ` (and ${blocking.length - 1} more blocking problems: \`lora-scripts prepare\` lists them all)`
        : '';
    throw new DatasetError(first.message, {
      code: `dataset_${first.rule.replaceAll('-', '_')}`,
      culprit: `${options.dataDir}/${first.image}`,
      hint: first.hint + more,
    });
  }
  return findings.length > 0 ? warningBlock(findings, items.length) : null;
}

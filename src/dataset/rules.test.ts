// Every quality and caption rule against its fixture, tests/fixtures/dataset-rules/<rule>.json (ruff-style: one rule,
// one fixture, the exact findings written out and read by a person). Records in a fixture are partial: missing fields
// come from CLEAN, a sharp, well-exposed 1024 px picture with a good caption.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIP_TOKENIZER_DIR, PACKAGE_ROOT } from '../engine/paths.js';
import { makeBuckets } from './buckets.js';
import { RULE_SUMMARIES } from './check.js';
import { makeClipBpe } from './clip-tokens.js';
import { DEFAULT_THRESHOLDS, type CheckOptions, type Finding, type ImageRecord } from './findings.js';
import { CAPTION_RULES } from './lint/index.js';
import { QUALITY_RULES } from './quality/index.js';

const FIXTURES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'dataset-rules');

interface FixtureCase {
  name: string;
  options: { targetPx?: number; buckets?: boolean; triggerWord?: string };
  records: (Partial<Omit<ImageRecord, 'stats'>> & { image: string; stats?: Partial<ImageRecord['stats']> | null })[];
  expected: Omit<Finding, 'rule'>[];
}

const CLEAN: Omit<ImageRecord, 'image'> = {
  width: 1024,
  height: 1024,
  orientation: 1,
  stats: { sharpness: 0.3, brightness: 128, contrast: 40, darkPercentile: 10, brightPercentile: 240 },
  hash: null,
  unreadable: null,
  caption:
    'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning',
};

const bpe = makeClipBpe(readFileSync(join(CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'));

function recordOf(partial: FixtureCase['records'][number]): ImageRecord {
  const stats = partial.stats === null ? null : { ...CLEAN.stats!, ...partial.stats };
  return { ...CLEAN, ...partial, stats } as ImageRecord;
}

function optionsOf(fixture: FixtureCase['options']): CheckOptions {
  const targetPx = fixture.targetPx ?? 768;
  return {
    thresholds: DEFAULT_THRESHOLDS,
    targetPx,
    buckets: fixture.buckets ? makeBuckets({ resolutionPx: targetPx }) : null,
    triggerWord: fixture.triggerWord ?? null,
    bpe,
  };
}

const RULES = [...QUALITY_RULES, ...CAPTION_RULES] as {
  name: string;
  check: (records: ImageRecord[], options: CheckOptions) => Finding[];
}[];

describe('dataset rules', () => {
  it('has one fixture per rule and one rule per fixture', () => {
    const fixtures = readdirSync(FIXTURES)
      .map((name) => name.replace(/\.json$/, ''))
      .sort();
    expect(fixtures).toEqual(RULES.map((rule) => rule.name).sort());
    expect(RULE_SUMMARIES.map((r) => r.name).sort()).toEqual(fixtures);
  });

  for (const rule of RULES) {
    const fixture = JSON.parse(readFileSync(join(FIXTURES, `${rule.name}.json`), 'utf8')) as {
      rule: string;
      cases: FixtureCase[];
    };
    describe(rule.name, () => {
      it.each(fixture.cases.map((c) => [c.name, c] as const))('%s', (_, testCase) => {
        const findings = rule.check(testCase.records.map(recordOf), optionsOf(testCase.options));
        expect(findings.every((f) => f.rule === rule.name && f.hint.length > 0)).toBe(true);
        expect(findings.map(({ image, severity, message }) => ({ image, severity, message }))).toEqual(
          testCase.expected.map(({ image, severity, message }) => ({ image, severity, message })),
        );
      });
    });
  }

  it('finds something in every fixture and leaves its first, clean record alone', () => {
    for (const rule of RULES) {
      const fixture = JSON.parse(readFileSync(join(FIXTURES, `${rule.name}.json`), 'utf8')) as { cases: FixtureCase[] };
      const main = fixture.cases[0]!;
      expect(main.expected.length, rule.name).toBeGreaterThan(0);
      expect(
        main.expected.some((f) => f.image === main.records[0]!.image),
        rule.name,
      ).toBe(false);
    }
  });
});

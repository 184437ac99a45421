// lintCaption on plain records with the shipped CLIP tokenizer: what a user sees as they type, and that its fast path
// (a rule that judges each caption alone runs on the edited one only) says exactly what every rule on every caption says.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, readClipBpe } from '../../dataset/index.js';
import { CAPTION_RULES } from '../../dataset/lint/index.js';
import { CLIP_TOKENIZER_DIR, PACKAGE_ROOT } from '../../engine/index.js';
import { lintCaption } from './caption-lint.js';

const bpe = readClipBpe(CLIP_TOKENIZER_DIR);
const GOOD = 'three houses and a stone bridge, canal town scene, jiangnan style, misty morning';

describe('lintCaption', () => {
  it('finds nothing in a good caption, and counts its CLIP tokens against 75', () => {
    const lint = lintCaption({ caption: GOOD, file: 'a.png', captions: [], triggerWord: null, bpe });
    expect(lint.findings).toEqual([]);
    expect(lint.tokens).toEqual({ count: 17, limit: 75 });
  });

  it('reports the caption rules as warnings with their messages and hints', () => {
    const lint = lintCaption({ caption: '美丽的江南', file: null, captions: [], triggerWord: 'jiangnan_style', bpe });
    expect(lint.findings.map((f) => f.rule)).toEqual(['caption-language', 'trigger-word']);
    expect(lint.findings.every((f) => f.severity === 'warning' && f.hint !== '')).toBe(true);
  });

  it('flags a caption shared with others, ignoring the saved caption of the picture being edited', () => {
    const captions = [
      { image: 'a.png', caption: 'a photo of sks dog' },
      { image: 'b.png', caption: 'a photo of sks dog' },
      { image: 'c.png', caption: 'a photo of sks dog' },
    ];
    const shared = lintCaption({ caption: 'A photo of sks dog', file: 'd.png', captions, triggerWord: null, bpe });
    expect(shared.findings.map((f) => f.rule)).toContain('duplicate-caption');
    // c.png's saved caption is replaced by the draft, not counted beside it: with b.png different, two is not three.
    const edited = lintCaption({
      caption: 'a photo of sks dog',
      file: 'c.png',
      captions: [captions[0]!, { image: 'b.png', caption: 'a cat' }, captions[2]!],
      triggerWord: null,
      bpe,
    });
    expect(edited.findings.map((f) => f.rule)).not.toContain('duplicate-caption');
  });

  it('says what running every caption rule on every caption says, for each fixture caption', () => {
    const fixtures = join(PACKAGE_ROOT, 'tests', 'fixtures', 'dataset-rules');
    const ruleNames = new Set(CAPTION_RULES.map((rule) => rule.name));
    let compared = 0;
    for (const file of readdirSync(fixtures)) {
      const fixture = JSON.parse(readFileSync(join(fixtures, file), 'utf8')) as {
        rule: string;
        cases: { options: { triggerWord?: string }; records: { image: string; caption?: string | null }[] }[];
      };
      if (!ruleNames.has(fixture.rule)) continue;
      for (const { options, records } of fixture.cases) {
        const captions = records.map(({ image, caption }) => ({
          image,
          caption: caption === undefined ? GOOD : caption,
        }));
        const triggerWord = options.triggerWord ?? null;
        for (const { image, caption } of captions) {
          if (caption === null) continue;
          const fast = lintCaption({ caption, file: image, captions, triggerWord, bpe });
          const records = [...captions.filter((record) => record.image !== image), { image, caption }];
          const checkOptions = { thresholds: DEFAULT_THRESHOLDS, targetPx: null, buckets: null, triggerWord, bpe };
          const every = CAPTION_RULES.flatMap((rule) => rule.check(records, checkOptions)).filter(
            (f) => f.image === image,
          );
          expect(fast.findings.map((f) => [f.rule, f.message])).toEqual(every.map((f) => [f.rule, f.message]));
          compared += 1;
        }
      }
    }
    expect(compared).toBeGreaterThan(20);
  });
});

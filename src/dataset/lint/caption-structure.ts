// Rule `caption-structure`: captions too short to describe a picture ("house", "jiangnan village"). A style LoRA
// learns best from subject + scene + style + detail, so the content words take the content and the style word the rest.
import type { CaptionRule } from '../findings.js';

export const CAPTION_EXAMPLE =
  'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning';

export const captionStructureRule: CaptionRule = {
  name: 'caption-structure',
  summary: 'captions of fewer than `minCaptionWords` words; suggests subject + scene + style + detail',
  check: (records, { thresholds }) =>
    records.flatMap((record) => {
      // Chinese, Japanese and Thai do not separate words with spaces; `caption-language` flags them anyway.
      if (
        record.caption === null ||
        /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u.test(record.caption)
      )
        return [];
      const words = record.caption.split(/[\s,]+/).filter((word) => /[\p{L}\p{N}]/u.test(word)).length;
      if (words >= thresholds.minCaptionWords) return [];
      return [
        {
          image: record.image,
          rule: 'caption-structure',
          severity: 'warn' as const,
          message: `caption has ${words} ${words === 1 ? 'word' : 'words'}: too short to describe the picture`,
          hint: `write subject, scene, style, detail, e.g. \`${CAPTION_EXAMPLE}\``,
        },
      ];
    }),
};

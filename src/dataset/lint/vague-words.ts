// Rule `vague-words`: praise instead of description ("beautiful", "nice view"). The text encoder learns nothing
// about the picture from them, and they soak up the style the LoRA should tie to concrete words.
import type { CaptionRule } from '../findings.js';

/**
 * Longer phrases first, so "nice view" is reported as itself and not as "nice". Not listed on purpose: "cool" (cool
 * colours), "great" (the Great Wall), "good": they describe things too often.
 */
export const VAGUE_PHRASES = [
  'nice view',
  'best quality',
  'high quality',
  'masterpiece',
  'beautiful',
  'beautifully',
  'nice',
  'amazing',
  'awesome',
  'stunning',
  'gorgeous',
  'lovely',
  'wonderful',
  'fantastic',
  'incredible',
  'breathtaking',
  'magnificent',
  'spectacular',
  'perfect',
  'epic',
  'pretty',
] as const;

const PATTERN = new RegExp(`\\b(${VAGUE_PHRASES.map((p) => p.replace(' ', '\\s+')).join('|')})\\b`, 'gi');

export function vagueWordsIn(caption: string): string[] {
  return [...new Set([...caption.matchAll(PATTERN)].map((match) => match[1]!.toLowerCase().replace(/\s+/g, ' ')))];
}

export const vagueWordsRule: CaptionRule = {
  name: 'vague-words',
  summary: 'praise instead of description ("beautiful", "nice view", "amazing", …)',
  check: (records) =>
    records.flatMap((record) => {
      const words = record.caption === null ? [] : vagueWordsIn(record.caption);
      if (words.length === 0) return [];
      return [
        {
          image: record.image,
          rule: 'vague-words',
          severity: 'warn' as const,
          message: `vague ${words.length === 1 ? 'word' : 'words'} ${words.map((w) => `\`${w}\``).join(', ')}`,
          hint: 'say what is visible instead: subject, scene, style, detail (e.g. `white walls and black tiles, misty morning`)',
        },
      ];
    }),
};

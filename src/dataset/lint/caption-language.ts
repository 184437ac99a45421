// Rule `caption-language`: captions in a script CLIP was not trained on. SD's text encoder learned English; Chinese,
// Russian or Arabic text becomes byte pieces it has no meaning for.
import type { CaptionRule } from '../findings.js';

/** Unicode script → the name messages use. Latin-script languages other than English are not detected. */
const FOREIGN_SCRIPTS: readonly [RegExp, string][] = [
  [/\p{Script=Han}/u, 'Han characters (Chinese, kanji)'],
  [/[\p{Script=Hiragana}\p{Script=Katakana}]/u, 'Japanese kana'],
  [/\p{Script=Hangul}/u, 'Korean Hangul'],
  [/\p{Script=Cyrillic}/u, 'Cyrillic'],
  [/\p{Script=Arabic}/u, 'Arabic script'],
  [/\p{Script=Hebrew}/u, 'Hebrew script'],
  [/\p{Script=Greek}/u, 'Greek script'],
  [/\p{Script=Thai}/u, 'Thai script'],
  [/\p{Script=Devanagari}/u, 'Devanagari'],
];

export function foreignScriptsIn(caption: string): string[] {
  return FOREIGN_SCRIPTS.filter(([pattern]) => pattern.test(caption)).map(([, name]) => name);
}

export const captionLanguageRule: CaptionRule = {
  name: 'caption-language',
  summary: 'captions in scripts the English-only text encoder does not read (CJK, Cyrillic, Arabic, …)',
  check: (records) =>
    records.flatMap((record) => {
      const scripts = record.caption === null ? [] : foreignScriptsIn(record.caption);
      if (scripts.length === 0) return [];
      return [
        {
          image: record.image,
          rule: 'caption-language',
          severity: 'warn' as const,
          message: `caption is written in ${scripts.join(' and ')}, which the text encoder (CLIP, English) does not read`,
          hint: 'translate the caption into English; keep names as a trigger word in Latin letters (e.g. `jiangnan_style`)',
        },
      ];
    }),
};

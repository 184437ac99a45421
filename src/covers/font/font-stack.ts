// Several fonts used as one: each character is drawn by the first font that has a glyph for it (the CJK font,
// then the Latin one), as a browser does with a `font-family` list. Pure.
import type { TrueTypeFont } from './truetype.js';

export interface PlacedGlyph {
  font: TrueTypeFont;
  glyph: number;
  /** The pen's advance in ems (font units over units per em), so fonts of any em size mix. */
  advanceEm: number;
}

export interface FontStack {
  /** The glyph that draws `char`, or null when no font of the stack has one (it would be a tofu box). */
  glyphFor(char: string): PlacedGlyph | null;
  /** The ascender and descender (negative) in ems, of the first font: lines are spaced by it. */
  ascenderEm: number;
  descenderEm: number;
}

export function fontStack(fonts: readonly TrueTypeFont[]): FontStack {
  const first = fonts[0];
  if (first === undefined) throw new Error('a font stack needs at least one font');
  const cache = new Map<string, PlacedGlyph | null>();
  return {
    ascenderEm: first.ascender / first.unitsPerEm,
    descenderEm: first.descender / first.unitsPerEm,
    glyphFor(char) {
      if (cache.has(char)) return cache.get(char)!;
      const codePoint = char.codePointAt(0)!;
      let placed: PlacedGlyph | null = null;
      for (const font of fonts) {
        const glyph = font.glyphIndex(codePoint);
        if (glyph === 0) continue;
        placed = { font, glyph, advanceEm: font.advanceWidth(glyph) / font.unitsPerEm };
        break;
      }
      cache.set(char, placed);
      return placed;
    },
  };
}

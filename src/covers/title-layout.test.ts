// Title layout against the shipped font's real metrics: breaking, sizing, line limits, refused characters.
import { beforeAll, describe, expect, it } from 'vitest';
import type { FontStack } from './font/font-stack.js';
import { loadTitleFonts } from './font/title-font.js';
import { parseTrueTypeFont } from './font/truetype.js';
import { layoutTitle, MAX_TITLE_LINES, titleTokens } from './title-layout.js';

let fonts: FontStack;
beforeAll(async () => {
  fonts = await loadTitleFonts();
});

describe('titleTokens', () => {
  it('breaks between CJK characters, keeps Latin words whole, and sticks punctuation to its neighbour', () => {
    expect(titleTokens('江南 rainy day')).toEqual([
      ['江'],
      ['南'],
      [' '],
      ['r', 'a', 'i', 'n', 'y'],
      [' '],
      ['d', 'a', 'y'],
    ]);
    expect(titleTokens('「雨中」游，好')).toEqual([['「', '雨'], ['中', '」'], ['游', '，'], ['好']]);
  });
});

describe('layoutTitle', () => {
  it('puts a short title on one centred line, sized from the picture', () => {
    const layout = layoutTitle('江南水乡 · 雨中游', fonts, { width: 512, height: 512 });
    expect(layout.lines.map((l) => l.text)).toEqual(['江南水乡 · 雨中游']);
    expect(layout.fontSizePx).toBe(46);
    const line = layout.lines[0]!;
    const right = 512 - (line.glyphs.at(-1)!.x + line.glyphs.at(-1)!.glyph.advanceEm * layout.fontSizePx);
    expect(Math.abs(line.glyphs[0]!.x - right)).toBeLessThan(1);
    expect(layout.band.y + layout.band.height).toBe(512);
  });

  it('wraps by width, shrinks a long title to at most three lines, and cuts what still does not fit with …', () => {
    const long = '江南水乡'.repeat(12);
    const layout = layoutTitle(long, fonts, { width: 256, height: 256 });
    expect(layout.lines.length).toBe(MAX_TITLE_LINES);
    expect(layout.lines.at(-1)!.text.endsWith('…')).toBe(true);
    expect(layout.fontSizePx).toBeLessThan(Math.round(256 * 0.09));
    const wrapped = layoutTitle('Rainy weekend in the water towns', fonts, { width: 256, height: 256 });
    expect(wrapped.lines.length).toBeGreaterThan(1);
    for (const line of wrapped.lines) expect(line.text).not.toMatch(/^ | $/);
  });

  it('refuses a character the font has no glyph for, naming it', () => {
    expect(() => layoutTitle('江南 🌧', fonts, { width: 256, height: 256 })).toThrow(/no glyph for `🌧`/);
  });
});

describe('parseTrueTypeFont', () => {
  it('refuses bytes that are no font, naming them', () => {
    expect(() => parseTrueTypeFont(new Uint8Array(64), 'x.woff')).toThrow(/not a TrueType or WOFF font/);
  });
});

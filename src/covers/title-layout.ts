// Where a title goes on a cover: its size from the picture's, wrapped to the picture's width (between any two CJK
// characters, between Latin words), at most three lines on a band across the bottom. Pure: text and font metrics
// in, positions out; title-svg.ts draws them.
import { UsageError } from '../errors.js';
import type { FontStack, PlacedGlyph } from './font/font-stack.js';

export interface TitleLine {
  glyphs: { glyph: PlacedGlyph; x: number }[];
  /** The line's text, for tests and logs. */
  text: string;
  /** The baseline, in px from the picture's top. */
  baselineY: number;
}

export interface TitleLayout {
  fontSizePx: number;
  lines: TitleLine[];
  /** The contrast band behind the text. */
  band: { x: number; y: number; width: number; height: number };
}

/** A cover title is a headline, not a paragraph: longer ones are shrunk, then cut with `…`. */
export const MAX_TITLE_LINES = 3;
// Sizes relative to the picture's shorter side, chosen so that a 512 px cover gets a 46 px headline and a 128 px
// thumbnail still gets legible 11 px text.
const FONT_SIZE_OF_SIDE = 0.09;
const MIN_FONT_SIZE_OF_SIDE = 0.055;
const MIN_FONT_SIZE_PX = 8;
const MARGIN_OF_WIDTH = 0.06;
const LINE_HEIGHT_EM = 1.3;
const BAND_PADDING_EM = 0.45;
const SHRINK_STEP = 0.9;
const ELLIPSIS = '…';

export function layoutTitle(title: string, fonts: FontStack, size: { width: number; height: number }): TitleLayout {
  const missing = [...new Set(Array.from(title).filter((char) => !/\s/.test(char) && fonts.glyphFor(char) === null))];
  if (missing.length > 0) {
    throw new UsageError(`the title font has no glyph for ${missing.map((c) => `\`${c}\``).join(', ')}`, {
      code: 'title_glyph_missing',
      culprit: 'title',
      hint: 'remove those characters, or send `title_on_image: false` and set the title yourself',
    });
  }
  const side = Math.min(size.width, size.height);
  const maxWidthPx = size.width * (1 - 2 * MARGIN_OF_WIDTH);
  const tokens = titleTokens(title);
  const minFontSize = Math.max(MIN_FONT_SIZE_PX, side * MIN_FONT_SIZE_OF_SIDE);
  let fontSizePx = Math.max(minFontSize, side * FONT_SIZE_OF_SIDE);
  let lines = wrapTokens(tokens, fonts, maxWidthPx / fontSizePx);
  while (lines.length > MAX_TITLE_LINES && fontSizePx * SHRINK_STEP >= minFontSize) {
    fontSizePx *= SHRINK_STEP;
    lines = wrapTokens(tokens, fonts, maxWidthPx / fontSizePx);
  }
  if (lines.length > MAX_TITLE_LINES) {
    lines = [
      ...lines.slice(0, MAX_TITLE_LINES - 1),
      withEllipsis(lines[MAX_TITLE_LINES - 1]!, fonts, maxWidthPx / fontSizePx),
    ];
  }
  fontSizePx = Math.round(fontSizePx);
  return place(lines, fonts, fontSizePx, size);
}

/**
 * Breakable pieces: a CJK character alone, a Latin word whole, a space. Closing punctuation (`」，。`) sticks to
 * what precedes it and opening punctuation (`「（`) to what follows, so no line starts with `」` or ends with `「`.
 */
export function titleTokens(title: string): string[][] {
  const tokens: string[][] = [];
  let pendingOpeners: string[] = [];
  for (const char of Array.from(title.trim())) {
    const last = tokens[tokens.length - 1];
    // Joining `last`: never a space token, never across an opener waiting for its character.
    const canJoin = last !== undefined && last[0] !== ' ' && pendingOpeners.length === 0;
    const isInsideWord = canJoin && !isBreakableEverywhere(char) && !isBreakableEverywhere(last[last.length - 1]!);
    if (/\s/.test(char)) {
      if (last && last[0] !== ' ') tokens.push([' ']);
    } else if (OPENING.has(char)) {
      pendingOpeners.push(char);
    } else if ((CLOSING.has(char) && canJoin) || isInsideWord) {
      last!.push(char);
    } else {
      tokens.push([...pendingOpeners, char]);
      pendingOpeners = [];
    }
  }
  if (pendingOpeners.length > 0) tokens.push(pendingOpeners);
  return tokens;
}

const OPENING = new Set(Array.from('「『（《〈【〔([{“‘'));
const CLOSING = new Set(Array.from('」』）》〉】〕)]}”’，。、；：！？·…,.;:!?'));

/** CJK ideographs, kana, hangul and full-width forms may break anywhere. */
function isBreakableEverywhere(char: string): boolean {
  return /[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u{20000}-\u{3ffff}]/u.test(char);
}

function widthEm(chars: readonly string[], fonts: FontStack): number {
  return chars.reduce((sum, char) => sum + (fonts.glyphFor(char)?.advanceEm ?? 0), 0);
}

/** Greedy filling; a token wider than a whole line (a very long word) is split between characters. */
function wrapTokens(tokens: readonly string[][], fonts: FontStack, maxWidthEm: number): string[][] {
  const lines: string[][] = [];
  let line: string[] = [];
  const flush = () => {
    while (line[line.length - 1] === ' ') line.pop();
    if (line.length > 0) lines.push(line);
    line = [];
  };
  for (const token of tokens) {
    if (token[0] === ' ' && line.length === 0) continue;
    if (widthEm([...line, ...token], fonts) <= maxWidthEm) {
      line.push(...token);
      continue;
    }
    flush();
    if (token[0] === ' ') continue;
    for (const char of widthEm(token, fonts) <= maxWidthEm ? [token] : token.map((c) => [c])) {
      if (line.length > 0 && widthEm([...line, ...char], fonts) > maxWidthEm) flush();
      line.push(...char);
    }
  }
  flush();
  return lines;
}

function withEllipsis(line: string[], fonts: FontStack, maxWidthEm: number): string[] {
  const cut = [...line];
  while (cut.length > 0 && widthEm([...cut, ELLIPSIS], fonts) > maxWidthEm) cut.pop();
  return [...cut, ELLIPSIS];
}

function place(lines: string[][], fonts: FontStack, fontSizePx: number, size: { width: number; height: number }) {
  const lineHeightPx = fontSizePx * LINE_HEIGHT_EM;
  const paddingPx = fontSizePx * BAND_PADDING_EM;
  const bandHeight = Math.min(size.height, Math.round(lines.length * lineHeightPx + 2 * paddingPx));
  const bandY = size.height - bandHeight;
  // Centre the glyphs' ascender-to-descender box in each line's box.
  const glyphBoxPx = (fonts.ascenderEm + fonts.descenderEm) * fontSizePx;
  const placed: TitleLine[] = lines.map((chars, i) => {
    const lineWidthPx = widthEm(chars, fonts) * fontSizePx;
    let x = (size.width - lineWidthPx) / 2;
    const glyphs = chars.map((char) => {
      const glyph = fonts.glyphFor(char)!;
      const at = { glyph, x };
      x += glyph.advanceEm * fontSizePx;
      return at;
    });
    const baselineY = bandY + paddingPx + i * lineHeightPx + (lineHeightPx + glyphBoxPx) / 2;
    return { glyphs, text: chars.join(''), baselineY };
  });
  return { fontSizePx, lines: placed, band: { x: 0, y: bandY, width: size.width, height: bandHeight } };
}

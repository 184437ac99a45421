// The font titles are drawn in: Noto Sans SC Bold (SIL OFL 1.1), shipped in the package's `assets/fonts/` so no
// system font is needed. The shell around truetype.ts: reads the files once per process.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type FontStack, fontStack } from './font-stack.js';
import { parseTrueTypeFont } from './truetype.js';

/** From src/covers/font/ and dist/covers/font/ alike: the package root's `assets/fonts/`. */
export const TITLE_FONT_DIR = fileURLToPath(new URL('../../../assets/fonts/', import.meta.url));

/** The simplified-Chinese subset first (CJK, full-width punctuation), then Latin for what it lacks. */
export const TITLE_FONT_FILES = [
  'noto-sans-sc-chinese-simplified-700-normal.woff',
  'noto-sans-sc-latin-700-normal.woff',
] as const;

let loading: Promise<FontStack> | null = null;

export function loadTitleFonts(): Promise<FontStack> {
  loading ??= Promise.all(
    TITLE_FONT_FILES.map(async (file) =>
      parseTrueTypeFont(await readFile(TITLE_FONT_DIR + file), `assets/fonts/${file}`),
    ),
  ).then(fontStack);
  return loading;
}

// Titles on real pictures: the shipped font read from its files, the SVG drawn by sharp, pixels compared.
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { PARAMETERS_KEY, readPngText, withPngText } from '../generate/index.js';
import { drawTitle } from './draw-title.js';
import type { FontStack } from './font/font-stack.js';
import { loadTitleFonts } from './font/title-font.js';
import { layoutTitle, type TitleLayout } from './title-layout.js';
import { titleSvg } from './title-svg.js';

const TITLE = '江南水乡 · 雨中游';
const SIZE = { width: 384, height: 256 };

let fonts: FontStack;
beforeAll(async () => {
  fonts = await loadTitleFonts();
});

async function plainPicture(size = SIZE): Promise<Buffer> {
  const background = { r: 96, g: 150, b: 128 };
  return sharp({ create: { ...size, channels: 3, background } })
    .png()
    .toBuffer();
}

async function rgb(png: Buffer): Promise<Uint8Array> {
  return new Uint8Array(await sharp(png).removeAlpha().raw().toBuffer());
}

/** How many pixels of rows [top, bottom) differ between two pictures of the same size. */
function changedPixels(a: Uint8Array, b: Uint8Array, width: number, rows: [number, number]): number {
  let changed = 0;
  for (let i = rows[0] * width; i < rows[1] * width; i++) {
    const delta =
      Math.abs(a[i * 3]! - b[i * 3]!) +
      Math.abs(a[i * 3 + 1]! - b[i * 3 + 1]!) +
      Math.abs(a[i * 3 + 2]! - b[i * 3 + 2]!);
    if (delta > 30) changed++;
  }
  return changed;
}

/** Bright (text-white) pixels: the glyphs themselves, not the band. */
function brightPixels(pixels: Uint8Array): boolean[] {
  const bright: boolean[] = [];
  for (let i = 0; i < pixels.length; i += 3)
    bright.push(pixels[i]! > 200 && pixels[i + 1]! > 200 && pixels[i + 2]! > 200);
  return bright;
}

async function rasterise(layout: TitleLayout): Promise<Uint8Array> {
  return rgb(
    await sharp(Buffer.from(titleSvg(layout, SIZE)))
      .flatten({ background: '#608070' })
      .png()
      .toBuffer(),
  );
}

describe('drawTitle', () => {
  it('sets 江南水乡 · 雨中游 on the band at the bottom and leaves the top of the picture alone', async () => {
    const before = await plainPicture();
    const after = await drawTitle(before, TITLE);
    const [a, b] = [await rgb(before), await rgb(after)];
    const band = layoutTitle(TITLE, fonts, SIZE).band;
    expect(band.y).toBeGreaterThan(SIZE.height / 2);
    expect(changedPixels(a, b, SIZE.width, [band.y, SIZE.height])).toBeGreaterThan(band.width * band.height * 0.5);
    expect(changedPixels(a, b, SIZE.width, [0, band.y])).toBe(0);
    // The glyphs are white on the dark band: a good share of the band is text.
    const text = brightPixels(b.subarray(band.y * SIZE.width * 3)).filter(Boolean).length;
    expect(text).toBeGreaterThan(band.width * band.height * 0.05);
  });

  it('draws every character of the title with a real glyph, none with the .notdef box', () => {
    const notdef = fonts.glyphFor('江')!.font.outlinePath(0);
    for (const char of Array.from(TITLE).filter((c) => c !== ' ')) {
      const placed = fonts.glyphFor(char);
      expect(placed, char).not.toBeNull();
      expect(placed!.glyph, char).toBeGreaterThan(0);
      expect(placed!.font.outlinePath(placed!.glyph), char).not.toBe(notdef);
    }
  });

  it('draws different pixels for different titles, and for a CJK character than for the tofu box', async () => {
    const jiang = layoutTitle('江', fonts, SIZE);
    const nan = layoutTitle('南', fonts, SIZE);
    const tofu: TitleLayout = {
      ...jiang,
      lines: jiang.lines.map((line) => ({
        ...line,
        glyphs: line.glyphs.map((g) => ({ ...g, glyph: { ...g.glyph, glyph: 0 } })),
      })),
    };
    const [jiangPixels, nanPixels, tofuPixels] = (await Promise.all([jiang, nan, tofu].map(rasterise))) as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ];
    const differ = (a: boolean[], b: boolean[]) => a.filter((bright, i) => bright !== b[i]).length;
    const jiangBright = brightPixels(jiangPixels);
    const minimum = jiangBright.filter(Boolean).length * 0.2;
    expect(differ(jiangBright, brightPixels(nanPixels))).toBeGreaterThan(minimum);
    expect(differ(jiangBright, brightPixels(tofuPixels))).toBeGreaterThan(minimum);

    const [one, other] = await Promise.all([
      drawTitle(await plainPicture(), TITLE),
      drawTitle(await plainPicture(), '雨中江南 · 夜游'),
    ]);
    expect(changedPixels(await rgb(one), await rgb(other), SIZE.width, [0, SIZE.height])).toBeGreaterThan(100);
  });

  it("keeps the picture's WebUI parameters text", async () => {
    const infotext = 'canal town\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 3, Size: 384x256';
    const titled = await drawTitle(withPngText(await plainPicture(), PARAMETERS_KEY, infotext, 'test'), TITLE);
    expect(readPngText(titled, 'test').get(PARAMETERS_KEY)).toBe(infotext);
  });

  it('fits a small thumbnail and a long mixed title within the picture', async () => {
    const small = { width: 128, height: 128 };
    const titled = await drawTitle(
      await plainPicture(small),
      '「江南水乡 · 雨中游」Rainy weekend in the water towns of Jiangnan',
    );
    expect(await sharp(titled).metadata()).toMatchObject(small);
    const layout = layoutTitle('「江南水乡 · 雨中游」Rainy weekend in the water towns of Jiangnan', fonts, small);
    expect(layout.lines.length).toBeLessThanOrEqual(3);
    for (const line of layout.lines) {
      const first = line.glyphs[0]!;
      const last = line.glyphs[line.glyphs.length - 1]!;
      expect(first.x).toBeGreaterThanOrEqual(0);
      expect(last.x + last.glyph.advanceEm * layout.fontSizePx).toBeLessThanOrEqual(small.width);
    }
  });
});

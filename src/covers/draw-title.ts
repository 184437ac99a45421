// Sets a title on a rendered cover: lays it out for the picture's size, draws it as paths with sharp (librsvg),
// and keeps the PNG's `parameters` text so the cover still says how its picture was made.
import sharp from 'sharp';
import { PARAMETERS_KEY, readPngText, withPngText } from '../generate/index.js';
import { loadTitleFonts } from './font/title-font.js';
import { layoutTitle } from './title-layout.js';
import { titleSvg } from './title-svg.js';

export async function drawTitle(png: Buffer, title: string): Promise<Buffer> {
  const fonts = await loadTitleFonts();
  const { width, height } = await sharp(png).metadata();
  const size = { width: width!, height: height! };
  const overlay = Buffer.from(titleSvg(layoutTitle(title, fonts, size), size));
  const titled = await sharp(png)
    .composite([{ input: overlay, top: 0, left: 0 }])
    .png()
    .toBuffer();
  const infotext = readPngText(png, 'cover').get(PARAMETERS_KEY);
  return infotext === undefined ? titled : withPngText(titled, PARAMETERS_KEY, infotext, 'cover');
}

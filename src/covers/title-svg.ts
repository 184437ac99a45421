// A laid-out title as an SVG overlay the size of the picture: a dark band, the glyph outlines in white over a soft
// shadow. Pure. Every glyph is a path, so the SVG renderer never needs a font.
import type { TitleLayout } from './title-layout.js';

const BAND_OPACITY = 0.55;
const SHADOW_OPACITY = 0.6;
const SHADOW_OFFSET_EM = 0.04;

export function titleSvg(layout: TitleLayout, size: { width: number; height: number }): string {
  const { band, fontSizePx } = layout;
  const glyphs = layout.lines
    .flatMap((line) =>
      line.glyphs.map(({ glyph, x }) => {
        const path = glyph.font.outlinePath(glyph.glyph);
        if (path === '') return ''; // a space
        const scale = fontSizePx / glyph.font.unitsPerEm;
        // Font units point up; SVG's y points down, hence the negative y scale.
        return `<path transform="translate(${round(x)} ${round(line.baselineY)}) scale(${scale} ${-scale})" d="${path}"/>`;
      }),
    )
    .join('');
  const shadow = Math.max(1, round(fontSizePx * SHADOW_OFFSET_EM));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${size.height}">`,
    `<rect x="${band.x}" y="${band.y}" width="${band.width}" height="${band.height}" fill="#000" fill-opacity="${BAND_OPACITY}"/>`,
    `<g fill="#000" fill-opacity="${SHADOW_OPACITY}" transform="translate(${shadow} ${shadow})">${glyphs}</g>`,
    `<g fill="#fff">${glyphs}</g>`,
    '</svg>',
  ].join('');
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

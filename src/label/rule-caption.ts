// The rule-based captioner, pure: image facts → a draft caption (trigger word, folder words, shape, light, colour).
// Used when no captioning model is given; a person is expected to edit the drafts.
import { styledCaption, type CaptionStyle } from './caption-style.js';

export interface ImageFacts {
  /** Name of the folder that holds the image (the folder name is a subject hint, kohya-style). */
  folder: string;
  width: number;
  height: number;
  /** Mean R, G, B in 0–255. */
  meanRgb: [number, number, number];
}

const COLOUR_NAMES: [string, [number, number, number]][] = [
  ['red', [200, 40, 40]],
  ['orange', [230, 140, 40]],
  ['yellow', [220, 210, 60]],
  ['green', [60, 160, 70]],
  ['teal', [50, 150, 150]],
  ['blue', [50, 90, 200]],
  ['purple', [130, 60, 170]],
  ['pink', [230, 140, 180]],
  ['brown', [130, 90, 50]],
  ['grey', [128, 128, 128]],
  ['white', [240, 240, 240]],
  ['black', [20, 20, 20]],
];

export function colourName([r, g, b]: [number, number, number]): string {
  let best = COLOUR_NAMES[0]!;
  let bestDistance = Infinity;
  for (const entry of COLOUR_NAMES) {
    const [cr, cg, cb] = entry[1];
    const distance = (r - cr) ** 2 + (g - cg) ** 2 + (b - cb) ** 2;
    if (distance < bestDistance) {
      best = entry;
      bestDistance = distance;
    }
  }
  return best[0];
}

/** `10_jiangnan_village` → `jiangnan village` (kohya repeat prefixes and separators removed). */
export function folderWords(folder: string): string | undefined {
  const words = folder.replace(/^\d+_/, '').replace(/[_-]+/g, ' ').trim();
  return words || undefined;
}

export function ruleCaption(facts: ImageFacts, style: CaptionStyle): string {
  const ratio = facts.width / facts.height;
  const shape = ratio > 1.2 ? 'landscape picture' : ratio < 0.83 ? 'portrait picture' : 'square picture';
  const luminance = 0.2126 * facts.meanRgb[0] + 0.7152 * facts.meanRgb[1] + 0.0722 * facts.meanRgb[2];
  const light = luminance < 70 ? 'dark' : luminance > 180 ? 'bright' : 'soft light';
  const parts = [folderWords(facts.folder), shape, light, `${colourName(facts.meanRgb)} tones`];
  return styledCaption(parts.filter((p): p is string => Boolean(p)).join(', '), style);
}

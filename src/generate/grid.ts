// Composes rendered images into one comparison grid PNG: a column per LoRA strength, a row per prompt and seed.
import sharp from 'sharp';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { RenderedImage } from './render-strengths.js';

const GAP_PX = 4;

export async function writeStrengthGrid(images: RenderedImage[], path: string, cellPx: number): Promise<void> {
  const strengths = [...new Set(images.map((i) => i.strength))];
  const rows = [...new Set(images.map((i) => `${i.promptIndex}:${i.seed}`))];
  const width = strengths.length * (cellPx + GAP_PX) + GAP_PX;
  const height = rows.length * (cellPx + GAP_PX) + GAP_PX;
  const composites = await Promise.all(
    images.map(async (image) => ({
      input: await sharp(image.path).resize(cellPx, cellPx, { kernel: 'nearest' }).png().toBuffer(),
      left: GAP_PX + strengths.indexOf(image.strength) * (cellPx + GAP_PX),
      top: GAP_PX + rows.indexOf(`${image.promptIndex}:${image.seed}`) * (cellPx + GAP_PX),
    })),
  );
  const grid = await sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(composites)
    .png()
    .toBuffer();
  writeFileAtomic(path, grid);
}

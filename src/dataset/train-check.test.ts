// The checks before `train`: silent on the 64 px demo data at `resolution: 64`, one warning block on a messy folder.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { drawScene, writeSampleDataset } from '../demo/index.js';
import { CLIP_TOKENIZER_DIR } from '../engine/paths.js';
import { readDataset } from './read.js';
import { checkTrainingDataset } from './train-check.js';

describe('checkTrainingDataset', () => {
  it('finds nothing in the demo run data (40 jiangnan scenes at 64 px, resolution 64)', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'train-check-demo-')), 'data');
    await writeSampleDataset({ dir, styles: ['jiangnan'], count: 40, seed: 0, sizePx: 64 });
    const items = await readDataset({
      dataDir: dir,
      metadataPath: join(dir, 'metadata.csv'),
      captionExtension: '.txt',
    });
    expect(
      checkTrainingDataset(items, { dataDir: dir, resolutionPx: 64, tokenizerDir: CLIP_TOKENIZER_DIR }),
    ).toBeNull();
    // The same pictures are too small for a 512 px run: one summary line for all 40, not 40 lines.
    const block = checkTrainingDataset(items, { dataDir: dir, resolutionPx: 512, tokenizerDir: CLIP_TOKENIZER_DIR })!;
    expect(block.split('\n')).toEqual([
      'warning: the dataset check found 40 problems in 40 of 40 images (training goes on):',
      '  resolution ×40: 64×64 px needs 8.00× upscaling to 512 px (limit 1.5×) (jiangnan_000.png, jiangnan_001.png, jiangnan_002.png, +37 more)',
      'hint: `lora-scripts prepare <train_data_dir> --out <folder>` shows each one with its picture and writes a copy without the worst',
    ]);
  });

  it('warns once per rule for blur, duplicates and captions; the trigger word is not asked for (train adds it)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'train-check-messy-'));
    const scene = (seed: number) => sharp(Buffer.from(drawScene('jiangnan', seed, 64).svg));
    await scene(1).png().toFile(join(dir, 'a.png'));
    await scene(1).jpeg({ quality: 80 }).toFile(join(dir, 'a-copy.jpg'));
    await scene(2).blur(3).png().toFile(join(dir, 'blurry.png'));
    await scene(3).png().toFile(join(dir, 'c.png'));
    writeFileSync(
      join(dir, 'metadata.csv'),
      'file_name,caption\na.png,"three houses, canal town scene, jiangnan style, misty morning"\na-copy.jpg,"two houses and a boat, canal town scene, jiangnan style, rainy noon"\nblurry.png,"one house and a bridge, canal town scene, jiangnan style, hazy dusk"\nc.png,"a beautiful view"\n',
    );
    const items = await readDataset({
      dataDir: dir,
      metadataPath: join(dir, 'metadata.csv'),
      captionExtension: '.txt',
    });
    const block = checkTrainingDataset(items, { dataDir: dir, resolutionPx: 64, tokenizerDir: CLIP_TOKENIZER_DIR })!;
    const lines = block.split('\n');
    expect(lines[0]).toBe('warning: the dataset check found 4 problems in 3 of 4 images (training goes on):');
    expect(
      lines
        .slice(1, -1)
        .map((l) => l.split(':')[0]!.trim())
        .sort(),
    ).toEqual(['caption-structure ×1', 'near-duplicate ×1', 'sharpness ×1', 'vague-words ×1']);
    expect(block).toContain('near-duplicate ×1: near-duplicate of a.png');
  });
});

// The held-out pictures on real files: a seeded share of train_data_dir, or validation_dir; clear errors otherwise.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig, validateConfig } from '../config/index.js';
import { readTrainingSets } from './read-datasets.js';

let root: string;

async function writePictures(dir: string, count: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  for (let i = 0; i < count; i++) {
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 30 * i, g: 90, b: 160 } } })
      .png()
      .toFile(join(dir, `p${i}.png`));
    writeFileSync(join(dir, `p${i}.txt`), `picture ${i}, test style`);
  }
}

function config(extra: string) {
  const parsed = validateConfig({
    file: 'c.yaml',
    text: `train_data_dir: ${join(root, 'train')}\nbase_model: m.safetensors\n${extra}`,
  });
  return resolveConfig(parsed, { cwd: root, isFile: () => false });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'validation-sets-'));
  await writePictures(join(root, 'train'), 10);
  await writePictures(join(root, 'held-out'), 3);
  await writePictures(join(root, 'one'), 1);
});

describe('readTrainingSets', () => {
  it('holds out a seeded share of the training folder', async () => {
    const { items, validationItems } = await readTrainingSets(config('validation_split: 0.2\n'));
    expect([items.length, validationItems.length]).toEqual([8, 2]);
    expect(items.filter((i) => validationItems.some((v) => v.path === i.path))).toEqual([]);
    expect(validationItems[0]?.caption).toMatch(/^picture \d, test style$/);
  });

  it('reads validation_dir and trains on every picture of train_data_dir', async () => {
    const { items, validationItems } = await readTrainingSets(config(`validation_dir: ${join(root, 'held-out')}\n`));
    expect([items.length, validationItems.length]).toEqual([10, 3]);
  });

  it('refuses both at once, and a split of a single picture', async () => {
    await expect(
      readTrainingSets(config(`validation_split: 0.1\nvalidation_dir: ${join(root, 'held-out')}\n`)),
    ).rejects.toThrow('`validation_split` and `validation_dir` both choose the validation pictures');
    await expect(
      readTrainingSets({ ...config('validation_split: 0.5\n'), train_data_dir: join(root, 'one') }),
    ).rejects.toThrow('`validation_split: 0.5` needs at least 2 pictures');
  });
});

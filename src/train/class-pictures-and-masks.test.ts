import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedConfig } from '../config/index.js';
import { manifestText, readDataset, type MeasuredItem } from '../dataset/index.js';
import { ConfigError } from '../errors.js';
import { classRepeats, maskCandidates, masksOf, withClassPicturesAndMasks } from './class-pictures-and-masks.js';
import { hashDataset } from './training-state.js';

async function picture(path: string, channels: 3 | 4): Promise<void> {
  const background = channels === 4 ? { r: 200, g: 100, b: 50, alpha: 0.5 } : { r: 200, g: 100, b: 50 };
  await sharp({ create: { width: 64, height: 64, channels, background } })
    .png()
    .toFile(path);
}

let root: string;
let items: MeasuredItem[];

const config = (extra: Partial<ResolvedConfig>) =>
  ({
    train_data_dir: join(root, 'data'),
    caption_extension: '.txt',
    reg_data_dir: null,
    mask_dir: null,
    masked_loss: false,
    ...extra,
  }) as ResolvedConfig;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'class-masks-'));
  for (const folder of ['data', 'class', 'masks']) mkdirSync(join(root, folder));
  for (const name of ['a', 'b', 'c', 'd']) {
    await picture(join(root, 'data', `${name}.${name === 'c' ? 'jpg' : 'png'}`), name === 'd' ? 4 : 3);
    writeFileSync(join(root, 'data', `${name}.txt`), `picture ${name}`);
  }
  await picture(join(root, 'class', 'x.png'), 3);
  writeFileSync(join(root, 'class', 'x.txt'), 'a house');
  await picture(join(root, 'masks', 'a.png'), 3); // same name
  await picture(join(root, 'masks', 'c.png'), 3); // c.jpg's mask as a .png
  items = await readDataset({ dataDir: join(root, 'data'), metadataPath: null, captionExtension: '.txt' });
});

describe('class pictures and masks', () => {
  it('repeat class pictures to about as many per epoch as the training pictures, at least once', () => {
    expect(classRepeats(40, 10)).toBe(4);
    expect(classRepeats(10, 4)).toBe(3);
    expect(classRepeats(4, 100)).toBe(1);
  });

  it('look for a mask at the same relative path, then as a .png', () => {
    expect(maskCandidates('/m', 'sub/a.jpg')).toEqual(['/m/sub/a.jpg', '/m/sub/a.png']);
    expect(maskCandidates('/m', 'a.png')).toEqual(['/m/a.png']);
  });

  it('leave a run without them as it was', async () => {
    const pictures = await withClassPicturesAndMasks(config({}), items);
    expect(pictures).toMatchObject({ items, classPictures: 0, masks: 0 });
    expect(manifestText(pictures.items, null, pictures.extras)).toBe(manifestText(items));
    expect(await hashDataset(pictures.items, pictures.extras)).toBe(await hashDataset(items));
  });

  it('append the class pictures, marked and repeated, and change the dataset hash', async () => {
    const pictures = await withClassPicturesAndMasks(config({ reg_data_dir: join(root, 'class') }), items);
    expect(pictures.classPictures).toBe(1);
    const lines = manifestText(pictures.items, null, pictures.extras)
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.at(-1)).toMatchObject({
      image: join(root, 'class', 'x.png'),
      caption: 'a house',
      repeats: 4,
      is_class: true,
    });
    expect(lines.slice(0, 4).some((line) => 'is_class' in line)).toBe(false);
    expect(await hashDataset(pictures.items, pictures.extras)).not.toBe(await hashDataset(items));
  });

  it('give each picture its mask file, else its transparency, else none', async () => {
    const pictures = await withClassPicturesAndMasks(
      config({ masked_loss: true, mask_dir: join(root, 'masks') }),
      items,
    );
    expect(pictures.extras).toEqual([
      { mask: join(root, 'masks', 'a.png') },
      {},
      { mask: join(root, 'masks', 'c.png') },
      { mask: join(root, 'data', 'd.png') },
    ]);
    expect(pictures.masks).toBe(3);
    const unmasked = await withClassPicturesAndMasks(config({ mask_dir: join(root, 'masks') }), items);
    expect(unmasked.masks).toBe(0); // masks are read only with `masked_loss`
  });

  it('give validation pictures their masks by the same rule, so their loss is masked as training is', async () => {
    const held = items.slice(2); // c.jpg (mask file as .png), d.png (transparency)
    const masked = config({ masked_loss: true, mask_dir: join(root, 'masks') });
    expect(await masksOf(masked, held)).toEqual([
      { mask: join(root, 'masks', 'c.png') },
      { mask: join(root, 'data', 'd.png') },
    ]);
    expect(await masksOf(config({ mask_dir: join(root, 'masks') }), held)).toEqual([{}, {}]);
  });

  it('refuse a class or mask folder inside the training folder in one line', async () => {
    const inside = config({ masked_loss: true, mask_dir: join(root, 'data', 'masks') });
    const error = await withClassPicturesAndMasks(inside, items).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toBe(
      '`mask_dir` is inside `train_data_dir`, whose pictures are all trained on',
    );
  });
});

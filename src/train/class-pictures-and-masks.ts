// The pictures and masks a run reads beyond `train_data_dir`'s: `reg_data_dir` class pictures (prior preservation)
// and `masked_loss` masks. Each becomes a field of its manifest line (dataset/manifest.ts), which the engine reads.
import { existsSync } from 'node:fs';
import { extname, isAbsolute, join, relative, resolve } from 'node:path';
import sharp from 'sharp';
import type { ResolvedConfig } from '../config/index.js';
import { readDataset, type ManifestExtra, type MeasuredItem } from '../dataset/index.js';
import { ConfigError, DatasetError } from '../errors.js';
import { hashDataset } from './training-state.js';

export interface TrainingPictures {
  /** The training pictures, then the class pictures. */
  items: MeasuredItem[];
  /** Aligned with `items`: what each manifest line says beyond the picture. */
  extras: ManifestExtra[];
  classPictures: number;
  masks: number;
}

/**
 * Class pictures repeat so an epoch holds about as many of them as training pictures (with repeats), as kohya
 * balances them: fewer class pictures are seen more often, never less than once.
 */
export function classRepeats(trainingCount: number, classCount: number): number {
  return Math.max(1, Math.round(trainingCount / classCount));
}

/** Where a picture's mask may be: the same relative path under `maskDir`, or the same name as a `.png`. */
export function maskCandidates(maskDir: string, relPath: string): string[] {
  const same = join(maskDir, relPath);
  const png = `${same.slice(0, same.length - extname(same).length)}.png`;
  return png === same ? [same] : [same, png];
}

function isInside(folder: string, parent: string): boolean {
  const rel = relative(resolve(parent), resolve(folder));
  return !rel.startsWith('..') && !isAbsolute(rel);
}

export async function withClassPicturesAndMasks(
  config: ResolvedConfig,
  items: MeasuredItem[],
): Promise<TrainingPictures> {
  for (const key of ['reg_data_dir', 'mask_dir'] as const) {
    const folder = config[key];
    if (folder !== null && isInside(folder, config.train_data_dir)) {
      throw new ConfigError(`\`${key}\` is inside \`train_data_dir\`, whose pictures are all trained on`, {
        code: 'folder_inside_dataset',
        culprit: key,
        hint: `move ${folder} out of ${config.train_data_dir}`,
      });
    }
  }
  const extras = await masksOf(config, items);
  const classItems = config.reg_data_dir ? await readClassPictures(config.reg_data_dir, config.caption_extension) : [];
  const training = items.reduce((sum, item) => sum + item.repeats, 0);
  const repeats = classItems.length ? classRepeats(training, classItems.length) : 1;
  return {
    items: [...items, ...classItems.map((item) => ({ ...item, repeats }))],
    extras: [...extras, ...classItems.map((): ManifestExtra => ({ is_class: true }))],
    classPictures: classItems.length,
    masks: extras.filter((extra) => extra.mask).length,
  };
}

async function readClassPictures(folder: string, captionExtension: string): Promise<MeasuredItem[]> {
  const metadata = join(folder, 'metadata.csv');
  const found = await readDataset({
    dataDir: folder,
    metadataPath: existsSync(metadata) ? metadata : null,
    captionExtension,
  });
  if (found.length === 0) {
    throw new DatasetError('has no pictures', {
      code: 'reg_data_empty',
      culprit: folder,
      hint: 'add class pictures (captioned with the class word), or remove `reg_data_dir`',
    });
  }
  return found;
}

/**
 * Each picture's manifest `mask` with `masked_loss` (none without): for the training pictures, and for the held-out
 * validation pictures, whose loss is then masked as training's is (engine validation.py).
 */
export function masksOf(
  config: Pick<ResolvedConfig, 'masked_loss' | 'mask_dir'>,
  items: readonly MeasuredItem[],
): Promise<ManifestExtra[]> {
  return Promise.all(items.map(async (item) => (config.masked_loss ? maskOf(item, config.mask_dir) : {})));
}

/** The mask file of the same name, else the picture itself when it has transparency, else none (learned whole). */
async function maskOf(item: MeasuredItem, maskDir: string | null): Promise<ManifestExtra> {
  const file = maskDir ? maskCandidates(maskDir, item.relPath).find((path) => existsSync(path)) : undefined;
  if (file) return { mask: file };
  return (await sharp(item.path).metadata()).hasAlpha ? { mask: item.path } : {};
}

/** The dataset hash `train` puts in a run's fingerprint: its pictures, class pictures and masks (hashDataset). */
export async function hashTrainingPictures(config: ResolvedConfig, items: MeasuredItem[]): Promise<string> {
  const pictures = await withClassPicturesAndMasks(config, items);
  return hashDataset(pictures.items, pictures.extras);
}

// Reads the training pictures and the held-out validation pictures (`validation_split` or `validation_dir`).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { readDataset, type MeasuredItem } from '../dataset/index.js';
import { ConfigError, DatasetError } from '../errors.js';
import { splitForValidation } from './validation-split.js';

export interface TrainingSets {
  items: MeasuredItem[];
  validationItems: MeasuredItem[];
}

export async function readTrainingSets(config: ResolvedConfig): Promise<TrainingSets> {
  const all = await readDataset({
    dataDir: config.train_data_dir,
    metadataPath: config.metadata_path,
    captionExtension: config.caption_extension,
  });
  if (config.validation_dir !== null) {
    if (config.validation_split > 0) {
      throw new ConfigError('`validation_split` and `validation_dir` both choose the validation pictures', {
        code: 'validation_conflict',
        culprit: 'validation_split',
        hint: 'keep one of them: `validation_dir` for a separate folder, `validation_split` to hold out part of `train_data_dir`',
      });
    }
    const metadata = join(config.validation_dir, 'metadata.csv');
    const validationItems = await readDataset({
      dataDir: config.validation_dir,
      metadataPath: existsSync(metadata) ? metadata : null,
      captionExtension: config.caption_extension,
    });
    return { items: all, validationItems };
  }
  const { training, validation } = splitForValidation(all, config.validation_split, config.seed);
  if (config.validation_split > 0 && validation.length === 0) {
    throw new DatasetError(`\`validation_split: ${config.validation_split}\` needs at least 2 pictures`, {
      code: 'validation_too_small',
      culprit: config.train_data_dir,
      hint: 'add pictures, or set `validation_split: 0`',
    });
  }
  return { items: training, validationItems: validation };
}

// Gathers what train/recommend.ts needs: the base model's verdict (src/checkpoint, first: a LoRA given as base model
// fails before any picture is measured), dataset size and detail (sharp) and the device (the engine's `doctor`).
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { checkBaseModel } from '../checkpoint/index.js';
import type { ParsedConfig } from '../config/index.js';
import { listImageFiles } from '../dataset/index.js';
import { isEngineReady, runEngine, setupEngine, type Env } from '../engine/index.js';
import { DatasetError } from '../errors.js';
import { recommendTraining, type DatasetStats, type DeviceFacts, type Recommendation } from './recommend.js';

/** Where a LoRA given as `base_model` belongs in a training config. */
export const BASE_MODEL_LORA_HINT =
  'to go on training this LoRA, set `init_lora` to it and `base_model` to the checkpoint it was trained on';
const DETAIL_SIZE_PX = 128;
const DETAIL_SAMPLE = 64; // pictures measured at most: the median settles long before

/** Mean absolute brightness step between neighbouring pixels at 128 px, 0–1. */
export async function measureDetail(path: string): Promise<number> {
  const { data, info } = await sharp(path)
    .rotate()
    .greyscale()
    .resize(DETAIL_SIZE_PX, DETAIL_SIZE_PX, { fit: 'inside', withoutEnlargement: true })
    .raw()
    .toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  let sum = 0;
  for (let y = 0; y < height - 1; y++) {
    for (let x = 0; x < width - 1; x++) {
      const i = y * width + x;
      sum += Math.abs(data[i]! - data[i + 1]!) + Math.abs(data[i]! - data[i + width]!);
    }
  }
  return sum / (2 * 255 * Math.max(1, (width - 1) * (height - 1)));
}

export async function measureDataset(dataDir: string): Promise<DatasetStats> {
  const images = listImageFiles(dataDir);
  if (images.length === 0)
    throw new DatasetError('no images found', {
      code: 'dataset_empty',
      culprit: dataDir,
      hint: 'point `train_data_dir` at the folder with the pictures',
    });
  const step = Math.max(1, Math.floor(images.length / DETAIL_SAMPLE));
  const measured = await Promise.all(
    images
      .filter((_, i) => i % step === 0)
      .slice(0, DETAIL_SAMPLE)
      .map((image) => measureDetail(join(dataDir, image.relPath))),
  );
  const sorted = measured.sort((a, b) => a - b);
  return {
    images: images.length,
    imagesPerEpoch: images.reduce((sum, image) => sum + image.repeats, 0),
    detail: sorted[Math.floor(sorted.length / 2)]!,
  };
}

/** The device the engine will train on, from its `doctor` report. */
export async function detectDevice(env: Env, note: (line: string) => void): Promise<DeviceFacts> {
  if (!isEngineReady(env)) setupEngine({ env, log: note });
  const result = await runEngine({ command: 'doctor' }, { env });
  const info = result.events.find((e) => e.type === 'info');
  const data = (info?.type === 'info' ? info.data : {}) as {
    device?: string;
    gpu?: string | null;
    gpu_memory_gb?: number | null;
  };
  const kind = data.device === 'cuda' || data.device === 'mps' ? data.device : 'cpu';
  const memoryGiB = kind === 'cuda' ? (data.gpu_memory_gb ?? null) : Math.round(totalmem() / 2 ** 30);
  return { kind, memoryGiB, name: data.gpu ?? null };
}

export interface RecommendForConfigOptions {
  config: ParsedConfig;
  cwd: string;
  env: Env;
  note: (line: string) => void;
}

export async function recommendForConfig(options: RecommendForConfigOptions): Promise<Recommendation> {
  const { config, cwd } = options;
  const base = checkBaseModel(config.base_model, { cwd, culprit: config.base_model, loraHint: BASE_MODEL_LORA_HINT });
  const dataset = await measureDataset(resolve(cwd, config.train_data_dir));
  const device = await detectDevice(options.env, options.note);
  const isSdxl = base.family === null ? null : base.family === 'sdxl'; // null: a hub id, not known before download
  const resolutionPx = config.resolution ?? base.nativeSizePx ?? (isSdxl ? 1024 : 512);
  const isFlux = base.family === 'flux';
  return recommendTraining({ dataset, device, resolutionPx, isSdxl, isFlux, networkType: config.network_type });
}

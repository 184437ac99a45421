// The base model's native training size, from what is cheap to read (a checkpoint's header, a diffusers folder's
// configs), so buckets can be computed when `resolution` is left to the model. null: not known without loading it
// (the engine then trains plain squares at the size it finds).
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensorsHeader } from '../lora/safetensors-file.js';

/** Written by `make-checkpoint` and the demo model (engine single_file.py's ARCHITECTURE_METADATA_KEY). */
const ARCHITECTURE_KEY = 'lora_scripts.architecture';

interface ModelConfigs {
  unet?: { sample_size?: unknown };
  vae?: { block_out_channels?: unknown };
}

/** UNet sample size × the VAE's downsampling (2 per level after the first), as diffusers' pipelines compute it. */
export function nativeSizeOfConfigs(configs: ModelConfigs): number | null {
  const sample = configs.unet?.sample_size;
  const levels = configs.vae?.block_out_channels;
  return typeof sample === 'number' && Array.isArray(levels) && levels.length > 0 ? sample * 2 ** (levels.length - 1) : null;
}

/** From a single-file checkpoint's tensor names and metadata. */
export function nativeSizeOfCheckpoint(tensorNames: Iterable<string>, metadata: Record<string, string>): number | null {
  const architecture = metadata[ARCHITECTURE_KEY];
  if (architecture) {
    try {
      return nativeSizeOfConfigs(JSON.parse(architecture) as ModelConfigs);
    } catch {
      return null;
    }
  }
  const names = [...tensorNames];
  if (names.some((n) => n.startsWith('conditioner.embedders.1.'))) return 1024; // SDXL's second text encoder
  if (names.some((n) => n.startsWith('cond_stage_model.transformer.'))) return 512; // SD 1.x's CLIP
  return null; // SD 2.x: 512 (base) or 768 (v-prediction), which only the engine tells apart
}

export function nativeResolution(baseModel: string): number | null {
  try {
    if (existsSync(join(baseModel, 'unet', 'config.json'))) {
      const read = (part: string) => JSON.parse(readFileSync(join(baseModel, part, 'config.json'), 'utf8')) as Record<string, unknown>;
      return nativeSizeOfConfigs({ unet: read('unet'), vae: read('vae') });
    }
    if (!baseModel.endsWith('.safetensors') || !statSync(baseModel).isFile()) return null; // a hub id, or another format
    const fd = openSync(baseModel, 'r');
    try {
      const header = readSafetensorsHeader(fd, baseModel);
      return nativeSizeOfCheckpoint(header.tensors.keys(), header.metadata);
    } finally {
      closeSync(fd);
    }
  } catch {
    return null; // unreadable here: the engine's loader reports it properly
  }
}

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nativeResolution, nativeSizeOfCheckpoint } from './native-resolution.js';

const DEMO = join(import.meta.dirname, '../../models/demo-sd1.safetensors');

describe('nativeResolution', () => {
  it('reads the shipped demo model (64 px) from its header only', () => {
    expect(nativeResolution(DEMO)).toBe(64);
  });

  it('reads a diffusers folder: UNet sample size × VAE downsampling', () => {
    const folder = mkdtempSync(join(tmpdir(), 'native-'));
    mkdirSync(join(folder, 'unet'));
    mkdirSync(join(folder, 'vae'));
    writeFileSync(join(folder, 'unet', 'config.json'), JSON.stringify({ sample_size: 64 }));
    writeFileSync(join(folder, 'vae', 'config.json'), JSON.stringify({ block_out_channels: [128, 256, 512, 512] }));
    expect(nativeResolution(folder)).toBe(512);
  });

  it('knows SD 1.x and SDXL checkpoints by their text encoders, and leaves SD 2.x and hub ids to the engine', () => {
    expect(nativeSizeOfCheckpoint(['cond_stage_model.transformer.text_model.embeddings.position_ids'], {})).toBe(512);
    expect(nativeSizeOfCheckpoint(['conditioner.embedders.1.model.ln_final.weight'], {})).toBe(1024);
    expect(nativeSizeOfCheckpoint(['cond_stage_model.model.ln_final.weight'], {})).toBeNull();
    expect(nativeResolution('runwayml/stable-diffusion-v1-5')).toBeNull();
  });
});

// The example configs in examples/ load through the real config loader: a documented example that stopped
// validating (a key renamed, a value out of range) fails here rather than in a user's first run.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { readConfig } from './load.js';
import { resolveConfig } from './resolve.js';

const EXAMPLES = join(PACKAGE_ROOT, 'examples');

function load(name: string) {
  const parsed = readConfig({ file: join(EXAMPLES, name), cwd: PACKAGE_ROOT });
  return resolveConfig(parsed, { cwd: PACKAGE_ROOT, isFile: () => true });
}

describe('examples/', () => {
  it.each(readdirSync(EXAMPLES).filter((name) => name.endsWith('.yaml')))('%s validates', (name) => {
    expect(() => load(name)).not.toThrow();
  });

  it('sdxl_style.yaml trains SDXL at 1024 px with the first text encoder only, at a tenth of the UNet rate', () => {
    const config = load('sdxl_style.yaml');
    expect(config).toMatchObject({
      resolution: 1024,
      bucketing: 'auto',
      lora_rank: 16,
      lora_alpha: 16,
      learning_rate: 1e-4,
      train_text_encoder: true,
      text_encoder_lr: 1e-5,
      text_encoder_2_lr: 0,
      gradient_checkpointing: true,
      mixed_precision: 'auto',
      cache_latents: true,
    });
  });
});

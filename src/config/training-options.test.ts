// The training-option keys (docs/training-options.md): their defaults leave a run as it was, good values pass, and
// each wrong value is one line naming the key and what it accepts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { collectOverrides } from '../cli/overrides.js';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { ConfigError } from '../errors.js';
import { validateConfig } from './validate.js';

// The article's YAML (configs/jiangnan_lora.yaml) has 11 lines after its comment: an added key is on line 12.
const ARTICLE_YAML = readFileSync(join(PACKAGE_ROOT, 'configs', 'jiangnan_lora.yaml'), 'utf8').replace(/^#.*\n/, '');

const withLine = (extra: string) => validateConfig({ file: 'c.yaml', text: `${ARTICLE_YAML}${extra}\n` });

function errorLine(extra: string): string {
  try {
    withLine(extra);
  } catch (error) {
    if (error instanceof ConfigError) return error.line;
    throw error;
  }
  throw new Error(`expected \`${extra}\` to be refused`);
}

describe('training-option keys', () => {
  it('are all off by default', () => {
    expect(withLine('')).toMatchObject({
      min_snr_gamma: null,
      adaptive_noise_scale: 0,
      multires_noise_iterations: 0,
      multires_noise_discount: 0.3,
      zero_terminal_snr: false,
      ema_decay: null,
      optimizer: 'adamw',
      unet_block_lr: [],
      unet_block_rank: [],
      reg_data_dir: null,
      prior_loss_weight: 1,
      mask_dir: null,
      masked_loss: false,
    });
  });

  it('accept the values the docs suggest', () => {
    const config = validateConfig({
      file: 'c.yaml',
      text: `${ARTICLE_YAML}${[
        'min_snr_gamma: 5',
        'noise_offset: 0.05',
        'adaptive_noise_scale: 0.01',
        'multires_noise_iterations: 8',
        'multires_noise_discount: 0.1',
        'prediction_type: v_prediction',
        'zero_terminal_snr: true',
        'ema_decay: 0.999',
        'optimizer: prodigy',
        'unet_block_lr: [up_blocks.3=0.5, mid_block=0, other=1]',
        'unet_block_rank: [mid_block=4, "up_blocks.1 = 32"]',
      ].join('\n')}\n`,
    });
    expect(config).toMatchObject({
      min_snr_gamma: 5,
      multires_noise_iterations: 8,
      zero_terminal_snr: true,
      ema_decay: 0.999,
      optimizer: 'prodigy',
      unet_block_lr: ['up_blocks.3=0.5', 'mid_block=0', 'other=1'],
      unet_block_rank: ['mid_block=4', 'up_blocks.1 = 32'],
    });
    expect(withLine('optimizer: adafactor').optimizer).toBe('adafactor');
  });

  it('refuse a value out of range in one line naming the key and its range', () => {
    expect(errorLine('min_snr_gamma: 0')).toBe(
      'c.yaml:12:16: `min_snr_gamma` must be a number > 0 and ≤ 100 (or `null` for auto), got `0`',
    );
    expect(errorLine('ema_decay: 1')).toBe(
      'c.yaml:12:12: `ema_decay` must be a number > 0 and ≤ 0.9999 (or `null` for auto), got `1`',
    );
    expect(errorLine('multires_noise_iterations: 2.5')).toBe(
      'c.yaml:12:28: `multires_noise_iterations` must be an integer from 0 to 20, got `2.5`',
    );
    expect(errorLine('multires_noise_discount: 0')).toBe(
      'c.yaml:12:26: `multires_noise_discount` must be a number > 0 and ≤ 1, got `0`',
    );
    expect(errorLine('adaptive_noise_scale: -1')).toBe(
      'c.yaml:12:23: `adaptive_noise_scale` must be a number from 0 to 1, got `-1`',
    );
    expect(errorLine('zero_terminal_snr: yes please')).toBe(
      'c.yaml:12:20: `zero_terminal_snr` must be `true` or `false`, got `"yes please"`',
    );
    expect(errorLine('prior_loss_weight: -1')).toBe(
      'c.yaml:12:20: `prior_loss_weight` must be a number from 0 to 10, got `-1`',
    );
    expect(errorLine('masked_loss: 1')).toBe('c.yaml:12:14: `masked_loss` must be `true` or `false`, got `1`');
    expect(errorLine('reg_data_dir: ""')).toMatch(/^c\.yaml:12:15: `reg_data_dir` must be a non-empty path/);
    expect(errorLine('optimizer: lion')).toBe(
      'c.yaml:12:12: `optimizer` must be one of `adamw`, `adamw8bit`, `prodigy`, `adafactor`, got `"lion"`',
    );
  });

  it('refuse a block item that is not BLOCK=VALUE, names no UNet block, or has a value out of range', () => {
    const blocks = 'down_blocks.N, mid_block, up_blocks.N or other';
    expect(errorLine('unet_block_lr: [up_blocks.3]')).toBe(
      `c.yaml:12:16: \`unet_block_lr[0]\` must be BLOCK=VALUE with BLOCK one of ${blocks}, got \`["up_blocks.3"]\``,
    );
    expect(errorLine('unet_block_lr: [mid_block=0, encoder=1]')).toBe(
      `c.yaml:12:16: \`unet_block_lr[1]\` must be BLOCK=VALUE with BLOCK one of ${blocks}, got \`["mid_block=0","encoder=1"]\``,
    );
    expect(errorLine('unet_block_lr: [up_blocks.3=fast]')).toMatch(
      /`unet_block_lr\[0\]` must give each block a multiplier from 0 to 10, got/,
    );
    expect(errorLine('unet_block_lr: [up_blocks.3=11]')).toMatch(/must give each block a multiplier from 0 to 10/);
    // A rank pattern matches layers inside a block, so `other` (outside every block) takes no rank.
    expect(errorLine('unet_block_rank: [other=4]')).toMatch(
      /`unet_block_rank\[0\]` must be BLOCK=VALUE with BLOCK one of down_blocks\.N, mid_block or up_blocks\.N, got/,
    );
    expect(errorLine('unet_block_rank: [mid_block=2.5]')).toMatch(
      /`unet_block_rank\[0\]` must give each block an integer rank from 1 to 1024, got/,
    );
    expect(errorLine('unet_block_rank: [mid_block=0]')).toMatch(/an integer rank from 1 to 1024/);
  });

  it('take block lists from a comma-separated flag', () => {
    const overrides = collectOverrides({ unetBlockLr: 'up_blocks.3=0.5, mid_block=0', unetBlockRank: 'mid_block=4' });
    const config = validateConfig({ file: 'c.yaml', text: ARTICLE_YAML, overrides });
    expect(config.unet_block_lr).toEqual(['up_blocks.3=0.5', 'mid_block=0']);
    expect(config.unet_block_rank).toEqual(['mid_block=4']);
  });
});

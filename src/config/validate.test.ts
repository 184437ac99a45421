import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { ConfigError } from '../errors.js';
import { validateConfig } from './validate.js';

// The YAML from the article our users follow, verbatim (shipped as configs/jiangnan_lora.yaml).
const ARTICLE_YAML = readFileSync(join(PACKAGE_ROOT, 'configs', 'jiangnan_lora.yaml'), 'utf8').replace(/^#.*\n/, '');

function errorOf(text: string, overrides?: Parameters<typeof validateConfig>[0]['overrides']): ConfigError {
  try {
    validateConfig({ file: 'configs/x.yaml', text, overrides });
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('validateConfig', () => {
  it('accepts the article YAML verbatim and fills defaults', () => {
    const config = validateConfig({ file: 'c.yaml', text: ARTICLE_YAML });
    expect(config).toMatchObject({
      lora_rank: 16,
      lora_alpha: 32,
      target_modules: ['q_proj', 'v_proj'],
      learning_rate: 0.0002,
      save_steps: 100,
    });
    expect(config.seed).toBe(42);
    expect(config.lr_scheduler).toBe('constant');
  });

  it('names an unknown key with its position and the closest valid key', () => {
    const error = errorOf(ARTICLE_YAML.replace('lora_rank', 'lora_rnak'));
    expect(error.line).toBe('configs/x.yaml:4:1: `lora_rnak` is not a config key');
    expect(error.hint).toBe('did you mean `lora_rank`? `lora-scripts config keys` lists every key');
  });

  it('gives file:line:col, the key and the allowed range for a wrong value', () => {
    expect(errorOf(ARTICLE_YAML.replace('lora_rank: 16', 'lora_rank: 8.5')).line).toBe(
      'configs/x.yaml:4:12: `lora_rank` must be an integer from 1 to 1024 or `auto`, got `8.5`',
    );
    expect(errorOf(ARTICLE_YAML.replace('epochs: 15', 'epochs: many')).line).toBe(
      'configs/x.yaml:8:9: `epochs` must be an integer from 1 to 100000 or `auto`, got `"many"`',
    );
    expect(errorOf(ARTICLE_YAML.replace('learning_rate: 2e-4', 'learning_rate: 0')).line).toBe(
      'configs/x.yaml:9:16: `learning_rate` must be a number > 0 and ≤ 1 or `auto`, got `0`',
    );
    expect(errorOf(`${ARTICLE_YAML}lr_scheduler: cosin\n`).line).toMatch(
      /^configs\/x\.yaml:12:15: `lr_scheduler` must be one of `constant`, .*got `"cosin"`$/,
    );
  });

  it('reports a missing required key', () => {
    const error = errorOf(ARTICLE_YAML.replace(/^base_model:.*\n/m, ''));
    expect(error.line).toBe('configs/x.yaml: `base_model` is required');
  });

  it('names the flag when a CLI override is wrong', () => {
    const error = errorOf(ARTICLE_YAML, [{ key: 'lora_rank', value: 0, source: '--lora-rank' }]);
    expect(error.line).toBe('--lora-rank: `lora_rank` must be an integer from 1 to 1024 or `auto`, got `0`');
  });

  it('lets overrides win over the file', () => {
    const config = validateConfig({
      file: 'c.yaml',
      text: ARTICLE_YAML,
      overrides: [{ key: 'epochs', value: 2, source: '--epochs' }],
    });
    expect(config.epochs).toBe(2);
  });

  it('refuses `train_text_encoder` with both text-encoder learning rates 0, naming the keys', () => {
    const frozen = `${ARTICLE_YAML}train_text_encoder: true\ntext_encoder_lr: 0\n`;
    for (const text of [frozen, `${frozen}text_encoder_2_lr: 0\n`]) {
      const error = errorOf(text);
      expect(error.code).toBe('invalid_value');
      expect(error.line).toBe(
        'configs/x.yaml:13:18: `text_encoder_lr` must be above 0 with `train_text_encoder: true` while `text_encoder_2_lr` is 0 too (no text encoder would train); set `train_text_encoder: false` to train the UNet only, got `0`',
      );
    }
    // One encoder frozen is allowed (SDXL: train only the first), and so is 0 with the text encoders off.
    expect(validateConfig({ file: 'c.yaml', text: `${frozen}text_encoder_2_lr: 1e-5\n` }).text_encoder_lr).toBe(0);
    const second = validateConfig({
      file: 'c.yaml',
      text: `${ARTICLE_YAML}train_text_encoder: true\ntext_encoder_2_lr: 0\n`,
    });
    expect(second.text_encoder_2_lr).toBe(0);
    expect(validateConfig({ file: 'c.yaml', text: `${ARTICLE_YAML}text_encoder_lr: 0\n` }).train_text_encoder).toBe(
      false,
    );
  });

  it('reports YAML syntax errors with their position', () => {
    expect(errorOf(`${ARTICLE_YAML}foo: [\n`).line).toMatch(/^configs\/x\.yaml:1[23]:\d+: not valid YAML: /);
  });
});

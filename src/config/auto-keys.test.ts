// `auto` for lora_rank, epochs, batch_size and learning_rate: accepted by the schema, filled only from a recommendation.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { autoKeysOf, resolveConfig } from './resolve.js';
import { validateConfig } from './validate.js';

const BASE = 'train_data_dir: ./data\nbase_model: ./model.safetensors\n';
const ctx = { cwd: '/work', isFile: () => false };
const parse = (text: string) => validateConfig({ file: 'c.yaml', text: BASE + text });

describe('auto keys', () => {
  it('keeps the defaults and the values users give', () => {
    const defaults = resolveConfig(parse(''), ctx);
    expect([defaults.lora_rank, defaults.epochs, defaults.batch_size, defaults.learning_rate]).toEqual([
      16, 10, 1, 1e-4,
    ]);
    const given = resolveConfig(parse('lora_rank: 8\nlearning_rate: 2e-4\n'), {
      ...ctx,
      autoValues: { lora_rank: 4, learning_rate: 1 },
    });
    expect([given.lora_rank, given.learning_rate, given.lora_alpha]).toEqual([8, 2e-4, 16]);
  });

  it('fills only the keys set to `auto`, and what derives from them', () => {
    const parsed = parse('lora_rank: auto\nepochs: auto\nbatch_size: 2\n');
    expect(autoKeysOf(parsed)).toEqual(['lora_rank', 'epochs']);
    const config = resolveConfig(parsed, {
      ...ctx,
      autoValues: { lora_rank: 8, epochs: 20, batch_size: 8, learning_rate: 3e-4 },
    });
    expect([config.lora_rank, config.epochs, config.batch_size, config.learning_rate, config.lora_alpha]).toEqual([
      8, 20, 2, 1e-4, 16,
    ]);
  });

  it('refuses to guess when no recommendation was made', () => {
    expect(() => resolveConfig(parse('learning_rate: auto\n'), ctx)).toThrow(ConfigError);
    expect(() => resolveConfig(parse('learning_rate: auto\n'), ctx)).toThrow(
      '`learning_rate: auto` needs the dataset and the device to be filled in',
    );
  });
});

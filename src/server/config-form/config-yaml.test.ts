// YAML both ways: the export reads back through `train --config`'s own validator; the import names the bad line and key.
import { describe, expect, it } from 'vitest';
import { CONFIG_KEYS, validateConfig } from '../../config/index.js';
import { checkConfigValues } from './config-problems.js';
import { configToYaml, yamlToConfig } from './config-yaml.js';

const CONFIG = {
  output_dir: 'output/jiangnan',
  learning_rate: 2e-4,
  target_modules: ['q_proj', 'v_proj'],
  base_model: 'models/demo-sd1.safetensors',
  train_data_dir: 'datasets/jiangnan',
  lora_rank: 'auto',
  sample_prompts: ['jiangnan_style, a bridge: misty # not a comment'],
  trigger_word: 'jiangnan_style',
};

function yamlOf(config: Record<string, unknown>): string {
  const result = configToYaml(config);
  if (!('yaml' in result)) throw new Error(`expected YAML, got ${result.problem.message}`);
  return result.yaml;
}

describe('configToYaml', () => {
  it('writes the keys in schema order, each under its help, and `train --config` reads back the same config', () => {
    const yaml = yamlOf(CONFIG);
    const keyLines = yaml.split('\n').filter((line) => /^\w+:/.test(line));
    const keys = keyLines.map((line) => line.split(':')[0]);
    expect(keys).toEqual(CONFIG_KEYS.filter((key) => key in CONFIG));
    expect(yaml).toContain('# -- lora\n# LoRA size.');
    expect(yaml).toMatch(/^# lora-scripts train config/);
    expect(validateConfig({ file: 'x.yaml', text: yaml })).toEqual(
      validateConfig({ file: 'x.json', text: JSON.stringify(CONFIG) }),
    );
    expect(yamlToConfig(yaml)).toEqual({ config: CONFIG });
  });

  it('wraps the help comments to lines of at most 100 characters after `# `', () => {
    const comments = yamlOf(CONFIG)
      .split('\n')
      .filter((line) => line.startsWith('#'));
    expect(comments.length).toBeGreaterThan(10);
    for (const line of comments.slice(1)) expect(line.length).toBeLessThanOrEqual(102);
  });

  it('exports a draft without the required keys, but refuses an unknown key or a bad value, naming it', () => {
    expect(yamlOf({ lora_rank: 8 })).toContain('lora_rank: 8');
    expect(configToYaml({ lora_rnak: 8 })).toMatchObject({ problem: { field: 'lora_rnak', code: 'unknown_key' } });
    const bad = configToYaml({ learning_rate: -1 });
    expect(bad).toMatchObject({ problem: { field: 'learning_rate', code: 'invalid_value' } });
  });
});

describe('yamlToConfig', () => {
  it('returns exactly the keys and values the file sets; required keys may be missing', () => {
    expect(yamlToConfig('lora_rank: 8\nlearning_rate: 2e-4\ntarget_modules: [q_proj, v_proj]\n')).toEqual({
      config: { lora_rank: 8, learning_rate: 2e-4, target_modules: ['q_proj', 'v_proj'] },
    });
    expect(yamlToConfig('')).toEqual({ config: {} });
    expect(yamlToConfig('# only a comment\n')).toEqual({ config: {} });
  });

  it('names the line and the key of an unknown key, with the suggestion', () => {
    const result = yamlToConfig('lora_rank: 8\n\nlora_rnak: 3\n');
    expect(result).toMatchObject({ problem: { field: 'lora_rnak', code: 'unknown_key', line: 3 } });
    if (!('problem' in result)) throw new Error('expected a problem');
    expect(result.problem.message).toBe('line 3: `lora_rnak` is not a config key');
    expect(result.problem.hint).toContain('lora_rank');
  });

  it('names the line and the key of a value out of range', () => {
    const result = yamlToConfig('lora_rank: 8\nlearning_rate: -0.001\n');
    expect(result).toMatchObject({ problem: { field: 'learning_rate', code: 'invalid_value', line: 2 } });
    if (!('problem' in result)) throw new Error('expected a problem');
    expect(result.problem.message).toMatch(/^line 2: `learning_rate` must be a number > 0/);
  });

  it('names the line of a YAML syntax error, of a key set twice, and refuses a document that is not a mapping', () => {
    expect(yamlToConfig('lora_rank: 8\nsample_prompts: [a, b\n')).toMatchObject({
      problem: { field: 'yaml', code: 'yaml_syntax' },
    });
    const twice = yamlToConfig('lora_rank: 8\nepochs: 3\nlora_rank: 4\n');
    expect(twice).toMatchObject({ problem: { field: 'lora_rank', code: 'duplicate_key', line: 3 } });
    expect(yamlToConfig('- lora_rank\n')).toMatchObject({ problem: { field: 'yaml', code: 'not_a_mapping' } });
    expect(yamlToConfig('just text')).toMatchObject({ problem: { code: 'not_a_mapping' } });
  });

  it('refuses an alias bomb instead of expanding it', () => {
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++)
      lines.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(', ')}]`,
      );
    expect(yamlToConfig(lines.join('\n'))).toMatchObject({ problem: { field: 'yaml', code: 'yaml_unreadable' } });
  });
});

describe('checkConfigValues', () => {
  it('lists every problem `train --config` would name one at a time, with its own messages', () => {
    const check = checkConfigValues({ learning_rate: -1, lora_rnak: 3, lora_rank: 'big', epochs: 'auto' });
    expect(check.problems.map((p) => [p.field, p.code])).toEqual([
      ['train_data_dir', 'missing_key'],
      ['base_model', 'missing_key'],
      ['lora_rank', 'invalid_value'],
      ['learning_rate', 'invalid_value'],
      ['lora_rnak', 'unknown_key'],
    ]);
    expect(check.problems.every((p) => p.blocking && p.hint.length > 0)).toBe(true);
    expect(check.problems[3]!.message).toBe('`learning_rate` must be a number > 0 and ≤ 1 or `auto`, got `-1`');
    expect([...check.failedKeys].sort()).toEqual([
      'base_model',
      'learning_rate',
      'lora_rank',
      'lora_rnak',
      'train_data_dir',
    ]);
    // What the later checks read: the keys at fault set aside, the rest as given.
    expect(check.config).toMatchObject({ epochs: 'auto', lora_rank: 16, learning_rate: 1e-4 });
  });

  it('puts a check across keys (both text-encoder rates 0) on the key it names', () => {
    const frozen = { train_data_dir: 'd', base_model: 'm.safetensors', train_text_encoder: true, text_encoder_lr: 0 };
    const check = checkConfigValues(frozen);
    expect(check.problems.map((p) => [p.field, p.code])).toEqual([['text_encoder_lr', 'invalid_value']]);
    expect(check.problems[0]!.message).toContain('`train_text_encoder: false`');
  });

  it('finds nothing in a config `train --config` accepts', () => {
    const config = { train_data_dir: 'd', base_model: 'm.safetensors', lora_rank: 'auto' };
    const check = checkConfigValues(config);
    expect(check.problems).toEqual([]);
    expect(check.config).toEqual(validateConfig({ file: 'c', text: JSON.stringify(config) }));
  });
});

// The training form's values: grouping, parsing what was typed, and the config it sends.
import { describe, expect, it } from 'vitest';
import type { ConfigField } from '../api/types.js';
import { configFromValues, defaultOutputDir, groupFields, initialValues, parseFieldInput } from './fields.js';

const field = (over: Partial<ConfigField> & { key: string }): ConfigField => ({
  group: 'basics',
  type: 'string',
  default: null,
  help: '',
  accepts_auto: false,
  required: false,
  nullable: false,
  derived_default: null,
  example: null,
  resume_free: null,
  ...over,
});

const FIELDS = [
  field({ key: 'train_data_dir', type: 'path', required: true }),
  field({ key: 'learning_rate', group: 'optimizer', type: 'number', default: 'auto', accepts_auto: true, min: 0 }),
  field({ key: 'max_train_steps', group: 'optimizer', type: 'integer', default: 1000, min: 1 }),
  field({ key: 'sample_prompts', group: 'samples', type: 'list', default: [] }),
  field({ key: 'flip', type: 'boolean', default: false }),
  field({ key: 'mixed_precision', type: 'enum', default: 'auto', accepts_auto: true, choices: ['no', 'fp16', 'bf16'] }),
];

describe('groupFields', () => {
  it('keeps the schema order of groups and of fields within them', () => {
    expect(groupFields(FIELDS).map((g) => [g.group, g.fields.map((f) => f.key)])).toEqual([
      ['basics', ['train_data_dir', 'flip', 'mixed_precision']],
      ['optimizer', ['learning_rate', 'max_train_steps']],
      ['samples', ['sample_prompts']],
    ]);
  });
});

describe('parseFieldInput', () => {
  const byKey = (key: string) => FIELDS.find((f) => f.key === key)!;
  it('reads numbers, integers with their bounds, auto where accepted, and empty as unset', () => {
    expect(parseFieldInput(byKey('learning_rate'), '1e-4')).toEqual({ ok: true, value: 1e-4 });
    expect(parseFieldInput(byKey('learning_rate'), ' AUTO ')).toEqual({ ok: true, value: 'auto' });
    expect(parseFieldInput(byKey('learning_rate'), '-1')).toEqual({ ok: false, reason: 'min' });
    const exclusive = field({ key: 'lr', type: 'number', min: 0, min_exclusive: true });
    expect(parseFieldInput(exclusive, '0')).toEqual({ ok: false, reason: 'min' });
    expect(parseFieldInput(byKey('max_train_steps'), '2.5')).toEqual({ ok: false, reason: 'integer' });
    expect(parseFieldInput(byKey('max_train_steps'), 'auto')).toEqual({ ok: false, reason: 'number' });
    expect(parseFieldInput(byKey('max_train_steps'), '')).toEqual({ ok: true, value: undefined });
  });
  it('reads a list one item per line, and a checkbox as a boolean', () => {
    expect(parseFieldInput(byKey('sample_prompts'), 'a cat\n\n  a dog ')).toEqual({
      ok: true,
      value: ['a cat', 'a dog'],
    });
    expect(parseFieldInput(byKey('flip'), true)).toEqual({ ok: true, value: true });
    const modules = field({ key: 'target_modules', type: 'list', presets: ['attention', 'attention+ff'] });
    expect(parseFieldInput(modules, 'attention+ff')).toEqual({ ok: true, value: 'attention+ff' });
    expect(parseFieldInput(modules, 'to_q\nto_v')).toEqual({ ok: true, value: ['to_q', 'to_v'] });
  });
});

describe('configFromValues', () => {
  it('sends what differs from the defaults, the required keys, and keys the form has no field for', () => {
    const values = {
      ...initialValues(FIELDS, { train_data_dir: 'datasets/cats' }),
      max_train_steps: 20,
      sample_prompts: ['a cat'],
      custom_key: 3,
    };
    expect(configFromValues(FIELDS, values)).toEqual({
      train_data_dir: 'datasets/cats',
      max_train_steps: 20,
      sample_prompts: ['a cat'],
      custom_key: 3,
    });
  });
});

describe('defaultOutputDir', () => {
  it('is output/<output_name>', () => {
    expect(defaultOutputDir(' cats ')).toBe('output/cats');
    expect(defaultOutputDir('')).toBeUndefined();
  });
});

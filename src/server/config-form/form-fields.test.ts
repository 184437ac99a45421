// The form fields against the schema they come from: every key, in order, with what its zod schema and metadata say.
import { describe, expect, it } from 'vitest';
import { AUTO_KEYS, CONFIG_KEYS, configSchema, metaOf, type ParsedConfig } from '../../config/index.js';
import { configFormSchema } from './api-schemas.js';
import { type FormField, formFields } from './form-fields.js';

const fields = formFields();
const fieldOf = (key: string): FormField => {
  const field = fields.find((f) => f.key === key);
  if (!field) throw new Error(`no field ${key}`);
  return field;
};

describe('formFields', () => {
  it('has one field per config key, in schema order, and matches the response schema', () => {
    expect(fields.map((f) => f.key)).toEqual(CONFIG_KEYS);
    expect(configFormSchema.parse({ fields })).toEqual({ fields });
  });

  it("gives every key its group, help and default from the schema and the key's metadata", () => {
    for (const field of fields) {
      const key = field.key as keyof ParsedConfig;
      const meta = metaOf(key);
      expect(field.group).toBe(meta.group);
      expect(field.help).toBe(meta.description);
      expect(field.derived_default).toBe(meta.derivedDefault ?? null);
      const parsedDefault = configSchema.shape[key].safeParse(undefined);
      expect(field.required).toBe(!parsedDefault.success);
      if (parsedDefault.success) expect(field.default).toEqual(parsedDefault.data);
      expect(field.accepts_auto).toBe((AUTO_KEYS as readonly string[]).includes(key));
    }
  });

  it('a default is a value the schema accepts', () => {
    for (const field of fields.filter((f) => !f.required)) {
      expect(configSchema.shape[field.key as keyof ParsedConfig].safeParse(field.default).success).toBe(true);
    }
  });

  it('describes numbers with their bounds and `auto`', () => {
    expect(fieldOf('lora_rank')).toMatchObject({
      type: 'integer',
      default: 16,
      min: 1,
      max: 1024,
      accepts_auto: true,
      required: false,
      group: 'lora',
    });
    expect(fieldOf('learning_rate')).toMatchObject({
      type: 'number',
      min: 0,
      min_exclusive: true,
      max: 1,
      accepts_auto: true,
    });
    expect(fieldOf('resolution')).toMatchObject({
      type: 'integer',
      min: 64,
      max: 4096,
      multiple_of: 8,
      nullable: true,
      default: null,
    });
    expect(fieldOf('resolution').derived_default).toContain('native size');
    // zod's own bound for a plain integer is no bound anyone set.
    expect(fieldOf('max_train_steps')).not.toHaveProperty('max');
    expect(fieldOf('max_train_steps')).toMatchObject({ min: 1, nullable: true });
  });

  it('describes enums with their choices; a mode named `auto` is a choice, not a recommendation', () => {
    expect(fieldOf('crop')).toMatchObject({ type: 'enum', choices: ['center', 'random'], default: 'center' });
    expect(fieldOf('mixed_precision')).toMatchObject({
      type: 'enum',
      choices: ['auto', 'no', 'fp16', 'bf16'],
      accepts_auto: false,
    });
  });

  it('marks paths, lists with presets, booleans and required keys', () => {
    expect(fieldOf('train_data_dir')).toMatchObject({ type: 'path', required: true, default: null, nullable: false });
    expect(fieldOf('base_model')).toMatchObject({ type: 'path', required: true, group: 'model' });
    expect(fieldOf('output_dir')).toMatchObject({ type: 'path', required: false, nullable: true });
    expect(fieldOf('target_modules')).toMatchObject({
      type: 'list',
      default: ['attention'],
      presets: ['attention', 'attention+ff', 'attention+ff+conv', 'all'],
    });
    expect(fieldOf('sample_prompts')).toMatchObject({ type: 'list', default: [] });
    expect(fieldOf('random_flip')).toMatchObject({ type: 'boolean', default: false });
    expect(fieldOf('caption_extension')).toMatchObject({ type: 'string', pattern: '^\\.\\w+$' });
    expect(fieldOf('epochs').resume_free).toBe('sets how long the run goes on');
    expect(fieldOf('lora_rank').resume_free).toBeNull();
  });
});

// The config schema as form fields: one per key, in schema order, read from each key's zod schema and metadata the way
// config/reference.ts writes the README table from them. Pure; there is no second list of keys here.
import { z } from 'zod';
import {
  AUTO_KEYS,
  CONFIG_KEYS,
  configSchema,
  type KeyMeta,
  LIST_KEYS,
  metaOf,
  type ParsedConfig,
} from '../../config/index.js';

export const FIELD_TYPES = ['string', 'number', 'integer', 'boolean', 'enum', 'path', 'list'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
export type FieldGroup = KeyMeta['group'];

export interface FormField {
  key: string;
  group: FieldGroup;
  type: FieldType;
  /** The schema default; `null` for a derived default (`derived_default` says what) or a required key. */
  default: unknown;
  help: string;
  /** An `enum` field's values. */
  choices?: string[];
  /** Named values a `list` field also takes as a whole (`target_modules: attention+ff`). */
  presets?: string[];
  min?: number;
  /** `min` itself is not allowed (a learning rate must be above 0). */
  min_exclusive?: boolean;
  max?: number;
  multiple_of?: number;
  /** A `string` field's value must match this regular expression. */
  pattern?: string;
  /** Whether the key takes `auto`: a value recommended from the dataset and the device, with its reason. */
  accepts_auto: boolean;
  /** The key has no default: a config without it fails. */
  required: boolean;
  /** `null` is allowed and means the derived default. */
  nullable: boolean;
  /** How a `null` default is worked out ("2 × `lora_rank`"), or null. */
  derived_default: string | null;
  /** A value as YAML would spell it, or null. */
  example: string | null;
  /** Why the key may differ between a stopped run and its resume, or null when it must stay the same. */
  resume_free: string | null;
}

interface JsonSchema {
  type?: string;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  multipleOf?: number;
  pattern?: string;
  items?: JsonSchema;
  default?: unknown;
}

/** zod's bound for a plain `z.int()`: no bound anyone set, so the form shows none. */
const UNSET_INT_BOUNDS = new Set([Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]);

function jsonSchemaOf(key: keyof ParsedConfig): JsonSchema {
  return z.toJSONSchema(configSchema.shape[key], { io: 'input', unrepresentable: 'any' }) as JsonSchema;
}

/** The kinds of value a key takes besides `null` and `auto`: one schema, or a string-or-list pair. */
function valueOptions(schema: JsonSchema): JsonSchema[] {
  const options = schema.anyOf ?? [schema];
  return options.filter((option) => option.type !== 'null' && option.const !== 'auto');
}

function fieldType(key: keyof ParsedConfig, main: JsonSchema, meta: KeyMeta): FieldType {
  if (meta.isPath) return 'path';
  if (LIST_KEYS.includes(key)) return 'list';
  if (main.enum) return 'enum';
  if (main.type === 'boolean' || main.type === 'integer' || main.type === 'number') return main.type;
  return 'string';
}

function bounds(main: JsonSchema): Pick<FormField, 'min' | 'min_exclusive' | 'max' | 'multiple_of' | 'pattern'> {
  const bound = (value: number | undefined) => (value === undefined || UNSET_INT_BOUNDS.has(value) ? undefined : value);
  const min = bound(main.exclusiveMinimum ?? main.minimum);
  const max = bound(main.maximum);
  return {
    ...(min === undefined ? {} : { min }),
    ...(main.exclusiveMinimum === undefined ? {} : { min_exclusive: true }),
    ...(max === undefined ? {} : { max }),
    ...(main.multipleOf === undefined ? {} : { multiple_of: main.multipleOf }),
    ...(main.pattern === undefined ? {} : { pattern: main.pattern }),
  };
}

export function formFieldOf(key: keyof ParsedConfig): FormField {
  const meta = metaOf(key);
  const schema = jsonSchemaOf(key);
  const options = valueOptions(schema);
  // A list key's options are a single name and a list of names: the list's items carry the bounds.
  const main = options.find((option) => option.type === 'array')?.items ?? options[0] ?? {};
  const type = fieldType(key, main, meta);
  return {
    key,
    group: meta.group,
    type,
    default: 'default' in schema ? schema.default : null,
    help: meta.description,
    ...(type === 'enum' ? { choices: (main.enum ?? []).map(String) } : {}),
    ...(meta.presets ? { presets: [...meta.presets] } : {}),
    ...(type === 'boolean' || type === 'enum' ? {} : bounds(main)),
    accepts_auto: (AUTO_KEYS as readonly string[]).includes(key),
    required: !('default' in schema),
    nullable: (schema.anyOf ?? []).some((option) => option.type === 'null'),
    derived_default: meta.derivedDefault ?? null,
    example: meta.example ?? null,
    resume_free: meta.resumeFree ?? null,
  };
}

/** Every config key as a form field, in schema order. */
export function formFields(): FormField[] {
  return CONFIG_KEYS.map(formFieldOf);
}

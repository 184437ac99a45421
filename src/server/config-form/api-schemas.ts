// The config form's HTTP contract: request and response bodies of /api/config/*, as zod schemas OpenAPI is built from.
import { z } from '@hono/zod-openapi';
import { AUTO_KEYS, CONFIG_KEYS, metaOf } from '../../config/index.js';
import { FIELD_TYPES } from './form-fields.js';

/** The groups the schema's keys use, in schema order. */
const FIELD_GROUPS = [...new Set(CONFIG_KEYS.map((key) => metaOf(key).group))] as [string, ...string[]];

export const formFieldSchema = z
  .strictObject({
    key: z.string(),
    group: z.enum(FIELD_GROUPS),
    type: z.enum(FIELD_TYPES),
    /** The schema default; null for a derived default (`derived_default` says what) or a required key. */
    default: z.unknown(),
    help: z.string(),
    choices: z.array(z.string()).optional(),
    presets: z.array(z.string()).optional(),
    min: z.number().optional(),
    min_exclusive: z.boolean().optional(),
    max: z.number().optional(),
    multiple_of: z.number().optional(),
    pattern: z.string().optional(),
    accepts_auto: z.boolean(),
    required: z.boolean(),
    nullable: z.boolean(),
    derived_default: z.string().nullable(),
    example: z.string().nullable(),
    resume_free: z.string().nullable(),
  })
  .meta({ id: 'ConfigField' });

export const configFormSchema = z.strictObject({ fields: z.array(formFieldSchema) }).meta({ id: 'ConfigForm' });

/** A train config as JSON, the keys of `train --config`'s YAML; checked by the route, not by this schema. */
const trainConfigSchema = z.record(z.string(), z.unknown());

export const configBodySchema = z.strictObject({ config: trainConfigSchema }).meta({ id: 'ConfigBody' });

export const configProblemSchema = z
  .strictObject({
    /** The config key at fault (an unknown key names itself); `config` for the config as a whole. */
    field: z.string(),
    code: z.string().min(1),
    message: z.string().min(1),
    hint: z.string(),
    /** true: training would not start; false: it would, and this is worth knowing first. */
    blocking: z.boolean(),
  })
  .meta({ id: 'ConfigProblem' });

export const preflightReportSchema = z
  .strictObject({
    ok: z.boolean(),
    problems: z.array(configProblemSchema),
    auto: z.array(
      z.strictObject({ key: z.enum(AUTO_KEYS as [string, ...string[]]), value: z.number(), reason: z.string() }),
    ),
    estimate: z.strictObject({
      steps: z.number().int().nonnegative().nullable(),
      seconds: z.number().nonnegative().nullable(),
      memory_mib: z.number().int().nonnegative().nullable(),
      device: z.string(),
      /** What each figure rests on, or why it is null. */
      notes: z.array(z.string()),
    }),
  })
  .meta({ id: 'PreflightReport' });

export const configYamlSchema = z.strictObject({ yaml: z.string() }).meta({ id: 'ConfigYaml' });

export const parseYamlBodySchema = z.strictObject({ yaml: z.string() }).meta({ id: 'ConfigYamlBody' });

export const parsedConfigSchema = z.strictObject({ config: trainConfigSchema }).meta({ id: 'ParsedConfigBody' });

// The HTTP contract of the style library and the regions: every request and response body as a zod schema.
import { z } from '@hono/zod-openapi';
import { PLACE_LEVELS, VERSION_STATUSES } from '../../library/index.js';
import { jobResponseSchema, wholeNumber } from '../schemas.js';

const styleName = z.string().regex(/^[\p{L}\p{N}_.-]{1,64}$/u, {
  error: 'send letters, digits, `_`, `-` or `.` (at most 64): the name goes into `<lora:NAME:0.7>`',
});
/** A workspace-relative path (checked against the workspace when used). */
const workspacePath = z.string().min(1).max(1024);
const strength = z.number().min(-4).max(4);
const words = z.array(z.string().min(1).max(200)).max(100);
const timestamp = z.string();

export const styleParamsSchema = z.object({ name: styleName });
export const versionParamsSchema = z.object({ name: styleName, version: wholeNumber(1, 1_000_000) });
export const regionParamsSchema = z.object({ id: wholeNumber(1, Number.MAX_SAFE_INTEGER) });

export const styleSchema = z
  .strictObject({ name: z.string(), prompt_template: z.string().nullable(), created_at: timestamp })
  .meta({ id: 'Style' });

export const styleVersionSchema = z
  .strictObject({
    style: z.string(),
    version: z.number().int().positive(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    lora_path: z.string(),
    source_name: z.string(),
    base_model: z.string().nullable(),
    parent_version: z.number().int().positive().nullable(),
    /** What `train` recorded (`lora_scripts.lineage`): parent file and hash, ancestors, datasets, steps. */
    lineage: z.unknown(),
    steps: z.number().int().nullable(),
    trigger_words: z.array(z.string()),
    strength: z.number(),
    sample_grid: z.array(z.string()),
    notes: z.string(),
    tags: z.array(z.string()),
    status: z.enum(VERSION_STATUSES),
    created_at: timestamp,
    status_changed_at: timestamp,
  })
  .meta({ id: 'StyleVersion' });

export const continuationSchema = z
  .strictObject({
    job_id: z.string(),
    style: z.string(),
    parent_version: z.number().int().positive(),
    state: z.enum(['pending', 'added', 'ended']),
    version: z.number().int().positive().nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'StyleContinuation' });

export const styleSummarySchema = styleSchema
  .extend({ versions: z.number().int().nonnegative(), promoted: z.number().int().positive().nullable() })
  .meta({ id: 'StyleSummary' });
export const styleListSchema = z.strictObject({ styles: z.array(styleSummarySchema) }).meta({ id: 'StyleList' });
export const styleDetailSchema = styleSchema
  .extend({ versions: z.array(styleVersionSchema), continuations: z.array(continuationSchema) })
  .meta({ id: 'StyleDetail' });

export const addVersionBodySchema = z
  .strictObject({
    /** The LoRA file in the workspace; the library keeps its own copy. */
    lora_path: workspacePath,
    base_model: workspacePath.nullable().optional(),
    trigger_words: words.optional(),
    strength: strength.optional(),
    sample_grid: z.array(workspacePath).max(100).optional(),
    notes: z.string().max(10_000).optional(),
    tags: words.optional(),
    prompt_template: z.string().max(2000).nullable().optional(),
  })
  .meta({ id: 'AddStyleVersion' });
export const addedVersionSchema = z
  .strictObject({ version: styleVersionSchema, is_new: z.boolean() })
  .meta({ id: 'AddedStyleVersion' });

export const editStyleBodySchema = z
  .strictObject({ prompt_template: z.string().max(2000).nullable() })
  .meta({ id: 'EditStyle' });

export const editVersionBodySchema = z
  .strictObject({
    base_model: workspacePath.nullable().optional(),
    trigger_words: words.optional(),
    strength: strength.optional(),
    sample_grid: z.array(workspacePath).max(100).optional(),
    notes: z.string().max(10_000).optional(),
    tags: words.optional(),
  })
  .meta({ id: 'EditStyleVersion' });

/** The new pictures and any train config keys; `init_lora` is the promoted version and cannot be given. */
export const continueBodySchema = z.looseObject({ train_data_dir: workspacePath }).meta({ id: 'ContinueStyle' });
export const continuedSchema = z
  .strictObject({ job: jobResponseSchema, continuation: continuationSchema })
  .meta({ id: 'ContinuedStyle' });

const placeName = z.string().min(1).max(200);
export const regionSchema = z
  .strictObject({
    id: z.number().int().positive(),
    level: z.enum(PLACE_LEVELS),
    place: z.string(),
    style: z.string(),
    version: z.number().int().positive().nullable(),
    from: timestamp.nullable(),
    until: timestamp.nullable(),
    created_at: timestamp,
  })
  .meta({ id: 'RegionRule' });
export const regionListSchema = z.strictObject({ regions: z.array(regionSchema) }).meta({ id: 'RegionRuleList' });
export const setRegionBodySchema = z
  .strictObject({
    level: z.enum(PLACE_LEVELS),
    /** The city, province or region name; left out for `default`. */
    place: placeName.optional(),
    style: styleName,
    /** Pin a version (an event version); default: the promoted one. */
    version: z.number().int().positive().nullable().optional(),
    /** ISO 8601 date or time with zone; the rule holds from `from` until `until` (exclusive). */
    from: z.string().max(64).nullable().optional(),
    until: z.string().max(64).nullable().optional(),
  })
  .meta({ id: 'SetRegionRule' });
export const removedRegionSchema = z
  .strictObject({ id: z.number().int().positive() })
  .meta({ id: 'RemovedRegionRule' });

export const resolveQuerySchema = z.object({
  city: placeName.optional(),
  province: placeName.optional(),
  region: placeName.optional(),
  /** ISO 8601 time to resolve at (default: now), to check an event window ahead. */
  at: z.iso
    .datetime({ offset: true, error: 'send an ISO 8601 time with a zone, e.g. `2026-07-01T08:00:00+08:00`' })
    .optional(),
});
export const resolvedStyleSchema = z
  .strictObject({
    style: z.string(),
    version: z.number().int().positive(),
    sha256: z.string(),
    lora_path: z.string(),
    strength: z.number(),
    prompt_template: z.string().nullable(),
    trigger_words: z.array(z.string()),
    base_model: z.string().nullable(),
    matched: z.enum(PLACE_LEVELS),
  })
  .meta({ id: 'ResolvedStyle' });
export const resolveResultSchema = z
  .strictObject({ at: timestamp, resolved: resolvedStyleSchema.nullable() })
  .meta({ id: 'ResolvedPlace' });

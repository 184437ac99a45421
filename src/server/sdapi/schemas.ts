// The A1111 API's bodies as zod schemas: for the OpenAPI document, and for tests that parse every answer with them.
// Field names and types are A1111 v1.10's (modules/api/models.py), so its clients read ours unchanged.
import { z } from '@hono/zod-openapi';
import { TXT2IMG_FIELDS } from './txt2img-fields.js';

/** FastAPI's validation answer: 422 `{detail: [{loc, msg, type}]}`; `loc` starts with `body`. */
export const sdapiValidationErrorSchema = z
  .strictObject({
    detail: z.array(
      z.strictObject({ loc: z.array(z.union([z.string(), z.number()])), msg: z.string(), type: z.string() }),
    ),
  })
  .meta({ id: 'SdapiValidationError' });

/** A1111's envelope for every other failure: `error` names its kind, `detail` and `errors` say what happened. */
export const sdapiFailureSchema = z
  .strictObject({ error: z.string(), detail: z.string(), body: z.string(), errors: z.string() })
  .meta({ id: 'SdapiFailure' });

const JSON_TYPES = { int: 'integer', float: 'number', bool: 'boolean', str: 'string', list: 'array', dict: 'object' };

/**
 * The txt2img body: every field of A1111's, optional and nullable, typed in the document. Validation here only asks
 * for an object: txt2img-fields.ts reads the fields (coercing as A1111 does; refusing, with a 422, unknown keys and
 * fields this server does not honour), so that the two never disagree.
 */
export const txt2imgBodySchema = z
  .looseObject(
    Object.fromEntries(
      Object.entries(TXT2IMG_FIELDS).map(([key, field]) => [
        key,
        z
          .unknown()
          .optional()
          .meta({ type: JSON_TYPES[field.kind], nullable: true, default: field.default } as Record<string, unknown>),
      ]),
    ),
  )
  .meta({ id: 'SdapiTxt2imgRequest' });

export const txt2imgResponseSchema = z
  .strictObject({
    /** Base64 PNGs without a `data:` prefix; each carries its infotext in the `parameters` text chunk. */
    images: z.array(z.string()),
    /** The request as read, every field with its default filled in. */
    parameters: z.record(z.string(), z.unknown()),
    /** A JSON string: seed, all_seeds, prompt, infotexts… (`txt2imgInfoSchema`). */
    info: z.string(),
  })
  .meta({ id: 'SdapiTxt2imgResponse' });

/** What `info` holds once parsed. */
export const txt2imgInfoSchema = z.looseObject({
  prompt: z.string(),
  all_prompts: z.array(z.string()),
  negative_prompt: z.string(),
  all_negative_prompts: z.array(z.string()),
  seed: z.number().int(),
  all_seeds: z.array(z.number().int()),
  subseed: z.number().int(),
  all_subseeds: z.array(z.number().int()),
  subseed_strength: z.number(),
  width: z.number().int(),
  height: z.number().int(),
  sampler_name: z.string(),
  cfg_scale: z.number(),
  steps: z.number().int(),
  batch_size: z.number().int(),
  sd_model_name: z.string(),
  sd_model_hash: z.string(),
  extra_generation_params: z.record(z.string(), z.unknown()),
  index_of_first_image: z.number().int(),
  infotexts: z.array(z.string()),
  styles: z.array(z.string()),
  job_timestamp: z.string(),
  clip_skip: z.number().int(),
  is_using_inpainting_conditioning: z.boolean(),
  version: z.string().nullable(),
});

export const progressSchema = z
  .strictObject({
    progress: z.number(),
    eta_relative: z.number(),
    state: z.strictObject({
      skipped: z.boolean(),
      interrupted: z.boolean(),
      stopping_generation: z.boolean(),
      job: z.string(),
      job_count: z.number().int(),
      job_timestamp: z.string(),
      job_no: z.number().int(),
      sampling_step: z.number().int(),
      sampling_steps: z.number().int(),
    }),
    current_image: z.string().nullable(),
    textinfo: z.string().nullable(),
  })
  .meta({ id: 'SdapiProgress' });

export const progressQuerySchema = z.object({
  skip_current_image: z.string().optional().meta({ description: 'accepted; there is no preview image' }),
});

export const optionsSchema = z
  .looseObject({
    /** The current checkpoint's title (`/sd-models`), null when the workspace has none. */
    sd_model_checkpoint: z.string().nullable(),
    sd_checkpoint_hash: z.string().nullable(),
  })
  .meta({ id: 'SdapiOptions' });

export const optionsBodySchema = z.record(z.string(), z.unknown()).meta({ id: 'SdapiOptionsUpdate' });

export const sdModelListSchema = z
  .array(
    z.strictObject({
      title: z.string(),
      model_name: z.string(),
      hash: z.string().nullable(),
      sha256: z.string().nullable(),
      filename: z.string(),
      config: z.string().nullable(),
    }),
  )
  .meta({ id: 'SdapiSdModels' });

export const loraListSchema = z
  .array(
    z.strictObject({
      name: z.string(),
      alias: z.string(),
      path: z.string(),
      metadata: z.record(z.string(), z.unknown()),
    }),
  )
  .meta({ id: 'SdapiLoras' });

export const samplerListSchema = z
  .array(z.strictObject({ name: z.string(), aliases: z.array(z.string()), options: z.record(z.string(), z.string()) }))
  .meta({ id: 'SdapiSamplers' });

export const schedulerListSchema = z
  .array(
    z.strictObject({
      name: z.string(),
      label: z.string(),
      aliases: z.array(z.string()).nullable(),
      default_rho: z.number(),
      need_inner_model: z.boolean(),
    }),
  )
  .meta({ id: 'SdapiSchedulers' });

export const scriptListSchema = z
  .strictObject({ txt2img: z.array(z.string()), img2img: z.array(z.string()) })
  .meta({ id: 'SdapiScripts' });

/** `POST /interrupt` answers `{}` (clients call `.json()` on it); several others answer `null`. */
export const emptyObjectSchema = z.strictObject({});
export const nullSchema = z.null();

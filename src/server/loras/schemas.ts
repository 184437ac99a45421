// The HTTP contract of the LoRA routes: list, inspect, download, keep; OpenAPI and the tests read these schemas.
import { z } from '@hono/zod-openapi';

/** The two key layouts the studio lists and converts between: WebUI/ComfyUI's kohya names and diffusers/PEFT's. */
export const loraKeyFormatSchema = z.enum(['kohya', 'diffusers']);

/** A workspace-relative POSIX path, checked against the workspace by the route itself. */
const workspacePath = z.string().min(1).max(4096);

export const loraEntrySchema = z
  .strictObject({
    path: workspacePath,
    /** The file name without `.safetensors`: what a prompt calls it, `<lora:name:0.7>`. */
    name: z.string(),
    bytes: z.number().int().nonnegative(),
    modified_at: z.iso.datetime(),
    format: loraKeyFormatSchema,
    /** `sd1`, `sd2`, `sdxl`, `sd1-or-sd2` (a tiny model's layout), or null when nothing tells. */
    family: z.string().nullable(),
    /** The most common rank over its layers. */
    rank: z.number().int().positive().nullable(),
    /** `ss_steps`: the training step it was saved at. */
    steps: z.number().int().nonnegative().nullable(),
    /** The base model it was trained on, as its metadata names it (`ss_sd_model_name`, else the version). */
    base_model: z.string().nullable(),
    /** The train job whose outputs hold this file, the newest one when several do. */
    job_id: z.string().nullable(),
  })
  .meta({ id: 'LoraEntry' });
export type LoraEntry = z.infer<typeof loraEntrySchema>;

export const loraListSchema = z.strictObject({ loras: z.array(loraEntrySchema) }).meta({ id: 'LoraList' });

export const loraPathQuerySchema = z.object({ path: workspacePath });

export const loraDownloadQuerySchema = z.object({
  path: workspacePath,
  /** Left out: the file as it is. */
  format: loraKeyFormatSchema.optional(),
});

const countedValue = z.strictObject({ value: z.number().nullable(), count: z.number().int().positive() });

const trainingSummarySchema = z.strictObject({
  outputName: z.string().nullable(),
  title: z.string().nullable(),
  baseModel: z.strictObject({
    name: z.string().nullable(),
    version: z.string().nullable(),
    hash: z.string().nullable(),
  }),
  network: z.strictObject({
    module: z.string().nullable(),
    dim: z.string().nullable(),
    alpha: z.string().nullable(),
    args: z.record(z.string(), z.string()).nullable(),
  }),
  steps: z.number().int().nullable(),
  maxSteps: z.number().int().nullable(),
  epoch: z.number().int().nullable(),
  epochs: z.number().int().nullable(),
  resolution: z.string().nullable(),
  learningRate: z.strictObject({
    base: z.string().nullable(),
    unet: z.string().nullable(),
    textEncoder: z.string().nullable(),
  }),
  optimizer: z.string().nullable(),
  scheduler: z.string().nullable(),
  mixedPrecision: z.string().nullable(),
  trainImages: z.number().int().nullable(),
  datasets: z.array(
    z.strictObject({ name: z.string(), images: z.number().nullable(), repeats: z.number().nullable() }),
  ),
  topTags: z.array(z.strictObject({ tag: z.string(), count: z.number() })),
  distinctTags: z.number().int().nonnegative(),
  startedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
});

/** `lora-scripts inspect FILE --json`, with `file` the workspace path that was asked for (src/lora/inspect.ts). */
export const inspectReportSchema = z
  .strictObject({
    file: z.string(),
    sizeBytes: z.number().int().nonnegative(),
    tensorCount: z.number().int().nonnegative(),
    dtypes: z.record(z.string(), z.number().int().positive()),
    format: z.strictObject({ name: z.string(), variant: z.string(), isConvertible: z.boolean() }),
    network: z.strictObject({ type: z.enum(['lora', 'loha', 'lokr', 'dora']), name: z.string() }),
    family: z.strictObject({ name: z.string().nullable(), basis: z.string(), metadataSays: z.string().nullable() }),
    layers: z.strictObject({
      total: z.number().int().nonnegative(),
      unet: z.number().int().nonnegative(),
      textEncoder: z.number().int().nonnegative(),
      textEncoder2: z.number().int().nonnegative(),
    }),
    ranks: z.array(countedValue),
    alphas: z.array(countedValue),
    modules: z.array(
      z.strictObject({
        name: z.string(),
        component: z.enum(['unet', 'text_encoder', 'text_encoder_2']).nullable(),
        kind: z.string(),
        rank: z.number().int().nullable(),
        alpha: z.number().nullable(),
        alphaSource: z.enum(['tensor', 'lora_adapter_metadata', 'rank']).nullable(),
        isConv: z.boolean(),
        dtype: z.string(),
      }),
    ),
    hashes: z
      .strictObject({
        fileSha256: z.string(),
        addnetSha256: z.string(),
        legacyHash: z.string(),
        webuiLoraHash: z.string(),
        webuiModelHash: z.string(),
        storedModelHash: z.string().nullable(),
        storedModelHashMatches: z.boolean().nullable(),
      })
      .nullable(),
    training: trainingSummarySchema.nullable(),
    loraScripts: z.record(z.string(), z.string()),
    problems: z.array(z.string()),
  })
  .meta({ id: 'LoraInspectReport' });

export const keepBodySchema = z.strictObject({
  /** A step the train job saved an intermediate LoRA at (its `save_steps`). */
  step: z.number().int().positive(),
});

export const keptLoraSchema = z
  .strictObject({
    /** The copy: `<output_name>-step<step>.safetensors` next to the job's final LoRA, kohya format. */
    path: workspacePath,
  })
  .meta({ id: 'KeptLora' });

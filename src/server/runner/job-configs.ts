// The config of each job kind but `train` (whose keys are config/schema.ts's): one strict zod schema per kind, and its
// resolution against the workspace, which the route runs before queueing and the executor again before running.
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { z } from 'zod';
import { DEFAULT_TARGET_PX, DEFAULT_THRESHOLDS, type QualityThresholds } from '../../dataset/findings.js';
import { ConfigError } from '../../errors.js';
import { FLORENCE_CAPTION_TASKS } from '../../label/model-captioner.js';
import { RequestRefused, resolveInWorkspace } from '../security/index.js';

const SEED_MAX = 2 ** 32 - 1;
const MAX_PROMPTS = 64;
const MAX_STRENGTHS = 16;
const MAX_SEEDS = 16;

/** A workspace-relative path as the client sends it; confined to the workspace when the config is resolved. */
const workspacePath = () => z.string().min(1, 'must not be empty');
const sizePx = () => z.int().min(64).max(4096).multipleOf(8);

/** A threshold key in snake_case (`max_upscale`), as every config key is spelled. */
const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const THRESHOLD_KEYS = Object.keys(DEFAULT_THRESHOLDS) as (keyof QualityThresholds)[];
/** Ratios cannot go below 1; the other thresholds below 0. */
const THRESHOLD_MIN: Partial<Record<keyof QualityThresholds, number>> = { maxUpscale: 1, maxAspect: 1 };
const thresholdShape = Object.fromEntries(
  THRESHOLD_KEYS.map((key) => [
    snakeCase(key),
    z
      .number()
      .min(THRESHOLD_MIN[key] ?? 0)
      .optional(),
  ]),
) as Record<string, z.ZodOptional<z.ZodNumber>>;

export const prepareJobConfigSchema = z
  .strictObject({
    /** The dataset folder, e.g. `datasets/cats`; only read. */
    dataset: workspacePath(),
    /** The prepared copy and its reports; default `prepared/<dataset name>`. Replaced on re-runs. */
    out: workspacePath().optional(),
    target: sizePx().optional(),
    crop: z.enum(['center', 'attention', 'entropy']).optional(),
    buckets: z.boolean().optional(),
    /** Fail when any picture is flagged for exclusion (only the report is written). */
    strict: z.boolean().optional(),
    trigger_word: z.string().min(1).optional(),
    caption_extension: z
      .string()
      .regex(/^\.\w{1,16}$/, 'must be like `.txt`')
      .optional(),
    ...thresholdShape,
  })
  .meta({ id: 'PrepareJobConfig' });

export const autoLabelJobConfigSchema = z
  .strictObject({
    /** The dataset folder; captions go to `<stem>.txt` beside the pictures (its metadata.csv when it has one). */
    dataset: workspacePath(),
    trigger_word: z.string().min(1).optional(),
    prefix: z.string().min(1).optional(),
    suffix: z.string().min(1).optional(),
    /** Replace the captions a person wrote too. */
    overwrite: z.boolean().optional(),
    /** A BLIP, Florence-2 or WD14 tagger folder in the workspace; default: the rule-based captioner. */
    model: workspacePath().optional(),
    batch_size: z.int().min(1).max(1024).optional(),
    task: z.enum(FLORENCE_CAPTION_TASKS).optional(),
    threshold: z.number().min(0).max(1).optional(),
    max_tokens: z.int().min(1).max(4096).optional(),
  })
  .meta({ id: 'AutoLabelJobConfig' });

export const generateJobConfigSchema = z
  .strictObject({
    /** One image per prompt and seed; `<lora:NAME:0.7>` tags find LoRAs under `output/`. */
    prompts: z.array(z.string().min(1)).min(1).max(MAX_PROMPTS),
    negative_prompt: z.string().optional(),
    /** A LoRA file (kohya or diffusers `.safetensors`) applied to every prompt. */
    lora: workspacePath().optional(),
    /** With `lora`: render every prompt at each strength, and a grid of them (a column per strength). */
    strengths: z.array(z.number().min(-4).max(4)).min(1).max(MAX_STRENGTHS).optional(),
    seeds: z.array(z.int().min(0).max(SEED_MAX)).min(1).max(MAX_SEEDS).optional(),
    /** Default: the base model the LoRA was trained on, when it is in the workspace. */
    base_model: workspacePath().optional(),
    /** Default: the base model family's (generate/sampling-defaults.ts: SD 20, Flux dev 28, schnell 4). */
    steps: z.int().min(1).max(150).optional(),
    /** Flux dev: the guidance value. Default: the family's (SD 7, Flux dev 3.5). */
    cfg_scale: z.number().min(0).max(30).optional(),
    /** Not used on Flux (its own Euler). */
    sampler: z.string().min(1).optional(),
    width: sizePx().optional(),
    height: sizePx().optional(),
    /** Default `outputs/generate/<job id>`. */
    out_dir: workspacePath().optional(),
  })
  .meta({ id: 'GenerateJobConfig' });

export const mergeJobConfigSchema = z
  .strictObject({
    /** A single-file `.safetensors` checkpoint; never modified. */
    base_model: workspacePath(),
    loras: z
      .array(z.strictObject({ path: workspacePath(), strength: z.number().min(-4).max(4) }))
      .min(1)
      .max(16),
    /** The merged checkpoint, written atomically; never the base model. */
    output: workspacePath().regex(/\.safetensors$/i, 'must end in `.safetensors`'),
  })
  .meta({ id: 'MergeJobConfig' });

export type PrepareJobConfig = z.infer<typeof prepareJobConfigSchema>;
export type AutoLabelJobConfig = z.infer<typeof autoLabelJobConfigSchema>;
export type GenerateJobConfig = z.infer<typeof generateJobConfigSchema>;
export type MergeJobConfig = z.infer<typeof mergeJobConfigSchema>;

export { DEFAULT_TARGET_PX };

/** prepare's thresholds: the defaults with the config's own values over them. */
export function thresholdsOf(config: PrepareJobConfig): QualityThresholds {
  const given = config as Record<string, unknown>;
  const entries = THRESHOLD_KEYS.map((key) => [key, given[snakeCase(key)] ?? DEFAULT_THRESHOLDS[key]]);
  return Object.fromEntries(entries) as QualityThresholds;
}

/**
 * The config's schema applied to a stored job's config (the route already checked it; a job from another client of
 * the store may not have been): a ConfigError naming `config.<field>`.
 */
export function parseJobConfig<T extends z.ZodType>(schema: T, config: unknown): z.infer<T> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = ['config', ...(issue?.path ?? []).map(String)].join('.');
  throw new ConfigError(issue?.message ?? 'is not valid', {
    code: 'invalid_job_config',
    culprit: field,
    hint: 'GET /api/openapi.json describes each job kind’s config',
  });
}

/**
 * The absolute path of a config field's workspace-relative path; a refusal names the field
 * (`config.lora \`../x\`: …`). `mustExist`: an input, missing → 400 `path_missing` naming the field.
 */
export function workspaceFile(workspace: string, field: string, requested: string, mustExist: boolean): string {
  let path: string;
  try {
    path = resolveInWorkspace(workspace, requested);
  } catch (error) {
    if (!(error instanceof RequestRefused)) throw error;
    throw new RequestRefused(error.status, error.message, {
      code: error.code,
      culprit: `config.${field} ${error.culprit}`,
    });
  }
  if (mustExist && !existsSync(path)) {
    throw new ConfigError(`\`${requested}\` is not in the workspace`, {
      code: 'path_missing',
      culprit: `config.${field}`,
      hint: 'upload it first, or fix the path (paths are relative to the workspace)',
    });
  }
  return path;
}

/** A path as jobs report them: relative to the workspace, with `/`. */
export function workspaceRelative(workspace: string, path: string): string {
  return relative(workspace, path).split('\\').join('/');
}

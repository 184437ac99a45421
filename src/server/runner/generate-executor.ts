// The executor of `generate` jobs: the CLI's own runGeneration, or, with a LoRA and `strengths`, the studio's
// strength grid (renderStrengths + writeStrengthGrid, as `lora-scripts demo` draws it). Stopped by the job's signal.
import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Env } from '../../engine/index.js';
import { ConfigError, InterruptedError } from '../../errors.js';
import {
  readLoraTrainingFacts,
  renderStrengths,
  runGeneration,
  samplingDefaults,
  writeStrengthGrid,
} from '../../generate/index.js';
import { libraryLoraLookup } from '../../library/index.js';
import type { DatabaseLocation } from '../../store/index.js';
import {
  type GenerateJobConfig,
  generateJobConfigSchema,
  parseJobConfig,
  workspaceFile,
  workspaceRelative,
} from './job-configs.js';
import type { JobExecution, JobExecutor } from './job-runner.js';

/** Where a job's images go when its config names no `out_dir`: a folder per job. */
export const GENERATE_ROOT = 'outputs/generate';
/** The grid image beside the cells it is made of. */
export const GRID_FILE = 'grid.png';
/** `generate`'s defaults (the CLI's, src/cli/commands/generate.ts); steps and CFG by family: sampling-defaults.ts. */
const DEFAULTS = { sampler: 'Euler a', scheduleType: 'Automatic', sizePx: 512 };
/** The grid's cells are at most this big, so a grid of 512 px renders stays a page wide. */
const MAX_CELL_PX = 256;
const SEED_RANGE = 2 ** 32;

export interface ResolvedGenerateJob {
  config: GenerateJobConfig;
  lora: string | null;
  /** null until run time when the LoRA's record names it (read then, as the LoRA may still be training). */
  baseModel: string | null;
  /** null: `outputs/generate/<job id>`. */
  outDir: string | null;
}

export function resolveGenerateJob(config: unknown, workspace: string): ResolvedGenerateJob {
  const parsed = parseJobConfig(generateJobConfigSchema, config);
  const lora = parsed.lora === undefined ? null : workspaceFile(workspace, 'lora', parsed.lora, true);
  if (parsed.strengths !== undefined && lora === null) {
    throw new ConfigError('a strength grid needs the LoRA whose strengths it compares', {
      code: 'lora_missing',
      culprit: 'config.lora',
      hint: 'give `lora` (a .safetensors file in the workspace), or leave `strengths` out',
    });
  }
  const baseModel =
    parsed.base_model === undefined ? null : workspaceFile(workspace, 'base_model', parsed.base_model, true);
  if (baseModel === null && lora === null) {
    throw new ConfigError('is required when no LoRA is given', {
      code: 'base_model_missing',
      culprit: 'config.base_model',
      hint: 'give `base_model` (a checkpoint in the workspace, e.g. `models/demo-sd1.safetensors`)',
    });
  }
  const outDir = parsed.out_dir === undefined ? null : workspaceFile(workspace, 'out_dir', parsed.out_dir, false);
  return { config: parsed, lora, baseModel, outDir };
}

/** Outputs: the images in the order rendered, then the grid when there is one. */
export interface GenerateExecutorOptions {
  workspace: string;
  env: Env;
  /** Where the style library that `<lora:NAME>` is looked up in lives (default: the workspace's SQLite file). */
  database?: DatabaseLocation | undefined;
}

export function generateExecutor({ workspace, env, database }: GenerateExecutorOptions): JobExecutor {
  return async (job, execution) => {
    const resolved = resolveGenerateJob(job.config, workspace);
    const baseModel = resolved.baseModel ?? recordedBaseModel(resolved.lora!, workspace);
    const outDir = resolved.outDir ?? workspaceFile(workspace, 'out_dir', `${GENERATE_ROOT}/${job.id}`, false);
    const run = { ...resolved, baseModel, outDir, workspace, env, database };
    const files = resolved.config.strengths ? await strengthGrid(run, execution) : await images(run, execution);
    return files.map((path) => workspaceRelative(workspace, path));
  };
}

interface GenerateRun {
  config: GenerateJobConfig;
  lora: string | null;
  baseModel: string;
  outDir: string;
  workspace: string;
  env: Env;
  database: DatabaseLocation | undefined;
}

/** Each prompt at each strength and seed, then the grid: a column per strength, a row per prompt and seed. */
async function strengthGrid(run: GenerateRun, { signal, log, progress }: JobExecution): Promise<string[]> {
  const { config } = run;
  const strengths = config.strengths!;
  const seeds = config.seeds ?? [randomSeed(log)];
  const sizePx = config.width ?? config.height ?? readLoraTrainingFacts(run.lora!).resolutionPx ?? DEFAULTS.sizePx;
  const total = strengths.length * config.prompts.length * seeds.length;
  log([`strength grid: ${config.prompts.length} prompts × ${seeds.length} seeds at strengths ${strengths.join(', ')}`]);
  let done = 0;
  stopIfAborted(signal);
  const rendered = await renderStrengths({
    baseModel: run.baseModel,
    lora: run.lora!,
    prompts: config.prompts,
    negativePrompt: config.negative_prompt,
    seeds,
    strengths,
    sizePx,
    // The strength grid renders Stable Diffusion bases only (engine render_strengths): SD's defaults.
    steps: config.steps ?? samplingDefaults(undefined).steps,
    guidanceScale: config.cfg_scale ?? samplingDefaults(undefined).cfgScale,
    outDir: run.outDir,
    env: run.env,
    verbose: false,
    stopSignal: signal,
    onEvent: (event) => {
      if (event.type === 'sample') progress({ step: ++done, total });
    },
  });
  const grid = join(run.outDir, GRID_FILE);
  await writeStrengthGrid(rendered, grid, Math.min(sizePx, MAX_CELL_PX));
  log([`grid: ${workspaceRelative(run.workspace, grid)} (columns: strength ${strengths.join(', ')})`]);
  return [...rendered.map((image) => image.path), grid];
}

/** `generate` as the CLI runs it, once per seed (the CLI's one seed gives image i the seed + i). */
async function images(run: GenerateRun, { signal, log, progress }: JobExecution): Promise<string[]> {
  const { config } = run;
  const seeds = config.seeds ?? [randomSeed(log)];
  const total = config.prompts.length * seeds.length;
  const loraDir = join(run.workspace, 'output');
  const paths: string[] = [];
  let sampled = 0;
  for (const seed of seeds) {
    stopIfAborted(signal);
    const result = await runGeneration({
      prompts: config.prompts,
      negativePrompt: config.negative_prompt ?? '',
      loraFiles: run.lora ? [{ path: run.lora, teWeight: 1, unetWeight: 1 }] : [],
      // `<lora:NAME>` in a prompt is looked up where the studio's trainings write by default.
      loraDirs: existsSync(loraDir) ? [loraDir] : [],
      // …after the server's style library (its promoted version), as `<lora:jiangnan_style:0.7>` in any prompt.
      libraryLoras: libraryLoraLookup(run.workspace, run.database),
      baseModel: run.baseModel,
      seed,
      // null: the base model family's default, as the CLI (SD 20 steps at CFG 7; Flux dev 28 at guidance 3.5).
      steps: config.steps ?? null,
      cfgScale: config.cfg_scale ?? null,
      sampler: config.sampler ?? DEFAULTS.sampler,
      scheduleType: DEFAULTS.scheduleType,
      width: config.width ?? null,
      height: config.height ?? null,
      batchCount: 1,
      batchSize: 1,
      outDir: run.outDir,
      env: run.env,
      verbose: false,
      stopSignal: signal,
      note: (line) => log([line.replaceAll(`${run.workspace}/`, '')]),
      onEvent: (event) => {
        if (event.type === 'sample') progress({ step: ++sampled, total });
      },
    });
    paths.push(...result.images.map((image) => image.path));
  }
  log([`${paths.length} images in ${workspaceRelative(run.workspace, run.outDir)}`]);
  return paths;
}

/**
 * The base model the LoRA's run record names, only when it is in the workspace: a record is a file a client may
 * have uploaded, so its path is no reason to read a file elsewhere on the server.
 */
function recordedBaseModel(lora: string, workspace: string): string {
  const recorded = readLoraTrainingFacts(lora).baseModelPath;
  const relativePath = recorded === null ? null : workspaceRelative(workspace, recorded);
  if (relativePath === null || relativePath.startsWith('..') || relativePath.startsWith('/')) {
    throw new ConfigError('is required: the LoRA does not name a base model in the workspace', {
      code: 'base_model_missing',
      culprit: 'config.base_model',
      hint: 'give `base_model`, the checkpoint the LoRA was trained on',
    });
  }
  return workspaceFile(workspace, 'base_model', relativePath, true);
}

/** An engine started with an aborted signal would never see it: a job cancelled before it starts stops here. */
function stopIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new InterruptedError('stopped before the engine started', { code: 'interrupted' });
}

function randomSeed(log: (lines: readonly string[]) => void): number {
  const seed = randomInt(0, SEED_RANGE);
  log([`seed: ${seed} (random)`]);
  return seed;
}

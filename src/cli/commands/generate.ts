// `lora-scripts generate`: WebUI-style prompts (`<lora:NAME:0.7>`) and settings in, PNGs with WebUI's
// `parameters` text out. `--from-png` starts from the settings stored in an image; flags given override them.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { parseParametersText, PARAMETERS_KEY, readPngText, runGeneration, type GenerationParameters, type LoraFileReference } from '../../generate/index.js';
import type { CommandContext } from '../context.js';

const DEFAULTS = { negativePrompt: '', seed: -1, steps: 20, cfgScale: 7, sampler: 'Euler a', scheduleType: 'Automatic', batchCount: 1, batchSize: 1 };

export async function generateCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const fromPng = typeof flags.fromPng === 'string' ? readSettingsFromPng(existingPath(ctx.cwd, flags.fromPng, '--from-png', 'the image')) : null;
  const fromFile = typeof flags.promptsFile === 'string' ? promptLines(existingPath(ctx.cwd, flags.promptsFile, '--prompts-file', 'the prompts file')) : [];
  const prompts = [...list(flags.prompt), ...fromFile];
  if (prompts.length === 0 && fromPng) prompts.push(fromPng.prompt);
  if (prompts.length === 0) throw new UsageError('`--prompt TEXT` is required', { code: 'usage', culprit: 'generate', hint: 'e.g. `--prompt "canal town, <lora:jiangnan_style:0.7>"`, `--prompts-file FILE` or `--from-png IMAGE.png`' });
  const loraDirs = list(flags.loraDir).map((dir) => existingPath(ctx.cwd, dir, '--lora-dir', 'the LoRA folder'));
  const result = await runGeneration({
    prompts,
    negativePrompt: text(flags.negativePrompt) ?? fromPng?.negativePrompt ?? DEFAULTS.negativePrompt,
    loraFiles: list(flags.lora).map((spec) => parseLoraFlag(spec, ctx.cwd)),
    loraDirs: loraDirs.length > 0 ? loraDirs : [resolve(ctx.cwd, 'output')],
    baseModel: typeof flags.baseModel === 'string' ? existingPath(ctx.cwd, flags.baseModel, '--base-model', 'the base model') : null,
    seed: integer(flags, 'seed', -1) ?? fromPng?.seed ?? DEFAULTS.seed,
    steps: integer(flags, 'steps', 1, 150) ?? fromPng?.steps ?? DEFAULTS.steps,
    cfgScale: decimal(flags, 'cfgScale', 0, 30) ?? fromPng?.cfgScale ?? DEFAULTS.cfgScale,
    sampler: text(flags.sampler) ?? fromPng?.sampler ?? DEFAULTS.sampler,
    scheduleType: text(flags.scheduleType) ?? fromPng?.scheduleType ?? DEFAULTS.scheduleType,
    width: sizePx(flags, 'width') ?? fromPng?.width ?? null,
    height: sizePx(flags, 'height') ?? fromPng?.height ?? null,
    batchCount: integer(flags, 'batchCount', 1, 1000) ?? DEFAULTS.batchCount,
    batchSize: integer(flags, 'batchSize', 1, 64) ?? DEFAULTS.batchSize,
    outDir: resolve(ctx.cwd, text(flags.out) ?? 'output/images'),
    expectedHashes: fromPng ? { model: fromPng.modelHash, loras: fromPng.loraHashes } : undefined,
    env: ctx.env,
    verbose: ctx.verbose,
    note: (line) => process.stderr.write(line + '\n'),
    onEvent: (event) => {
      if (event.type === 'sample') process.stderr.write(`image ${event.step} done\n`);
      else if (event.type === 'warning') process.stderr.write(`warning: ${event.message}\n`);
    },
  });
  for (const image of result.images) process.stdout.write(image.path + '\n');
  return 0;
}

/** One prompt per non-empty line, as WebUI's "prompts from file" reads them. */
function promptLines(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function readSettingsFromPng(path: string): GenerationParameters {
  const parameters = readPngText(readFileSync(path), path).get(PARAMETERS_KEY);
  if (parameters === undefined) throw new UsageError('the image has no WebUI `parameters` text', { code: 'png_parameters', culprit: path, hint: 'pass a PNG written by WebUI or `lora-scripts generate`' });
  return parseParametersText(parameters, path);
}

/** `FILE`, `FILE:WEIGHT` or `FILE:TE_WEIGHT:UNET_WEIGHT`; the weights come off the end, so a path may hold `:`. */
export function parseLoraFlag(spec: string, cwd: string): LoraFileReference {
  const parts = spec.split(':');
  const weights: number[] = [];
  while (parts.length > 1 && weights.length < 2 && /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(parts.at(-1)!)) weights.unshift(Number(parts.pop()));
  const path = existingPath(cwd, parts.join(':'), '--lora', 'the LoRA file');
  const teWeight = weights[0] ?? 1;
  return { path, teWeight, unetWeight: weights[1] ?? teWeight };
}

function text(value: unknown): string | undefined {
  return value === undefined ? undefined : String(value);
}

function list(value: unknown): string[] {
  return value === undefined ? [] : (Array.isArray(value) ? value : [value]).map(String);
}

function integer(flags: Record<string, unknown>, key: string, min: number, max = 2 ** 32 - 1): number | undefined {
  const value = flags[key];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw badFlag(key, value, `an integer from ${min} to ${max}`);
  return n;
}

function decimal(flags: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  const value = flags[key];
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw badFlag(key, value, `a number from ${min} to ${max}`);
  return n;
}

function sizePx(flags: Record<string, unknown>, key: string): number | undefined {
  const n = integer(flags, key, 64, 4096);
  if (n !== undefined && n % 8 !== 0) throw badFlag(key, n, 'a multiple of 8 from 64 to 4096');
  return n;
}

function badFlag(key: string, value: unknown, allowed: string): UsageError {
  const flag = `--${key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`;
  return new UsageError(`\`${flag} ${String(value)}\` must be ${allowed}`, { code: 'usage', culprit: flag });
}

/** A path that must exist, resolved against the working folder. */
function existingPath(cwd: string, path: string, culprit: string, what: string): string {
  const full = resolve(cwd, path);
  if (!existsSync(full)) throw new UsageError(`${what} \`${path}\` does not exist`, { code: 'file_missing', culprit, hint: `relative paths start at ${cwd}` });
  return full;
}

// `lora-scripts generate`: WebUI-style prompts (`<lora:NAME:0.7>`) and settings in, PNGs with WebUI's
// `parameters` text out. `--from-png` starts from the settings stored in an image; flags given override them.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import {
  parseParametersText,
  PARAMETERS_KEY,
  readPngText,
  runGeneration,
  type GenerationParameters,
  type LoraFileReference,
} from '../../generate/index.js';
import { libraryLoraLookup } from '../../library/index.js';
import { GENERATE_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { type FlagValues, parseFlags } from '../flag-values.js';
import { refuseLocalOnlyFlags, submitToServer } from '../server-client.js';

const DEFAULTS = {
  negativePrompt: '',
  seed: -1,
  sampler: 'Euler a',
  scheduleType: 'Automatic',
  batchCount: 1,
  batchSize: 1,
};

export async function generateCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(GENERATE_FLAGS, given);
  if (flags.server !== undefined) {
    refuseLocalOnlyFlags(given, ['fromPng', 'loraDir', 'workspace', 'scheduleType', 'batchCount', 'batchSize']);
    return submitToServer({ ...flags, server: flags.server }, 'generate', generateJobConfig(flags, ctx.cwd));
  }
  const fromPng =
    flags.fromPng === undefined
      ? null
      : readSettingsFromPng(existingPath(ctx.cwd, flags.fromPng, '--from-png', 'the image'));
  const fromFile =
    flags.promptsFile === undefined
      ? []
      : promptLines(existingPath(ctx.cwd, flags.promptsFile, '--prompts-file', 'the prompts file'));
  const prompts = [...flags.prompt, ...fromFile];
  if (prompts.length === 0 && fromPng) prompts.push(fromPng.prompt);
  if (prompts.length === 0)
    throw new UsageError('`--prompt TEXT` is required', {
      code: 'usage',
      culprit: 'generate',
      hint: 'e.g. `--prompt "canal town, <lora:jiangnan_style:0.7>"`, `--prompts-file FILE` or `--from-png IMAGE.png`',
    });
  const workspace = resolve(ctx.cwd, flags.workspace);
  const loraDirs = flags.loraDir.map((dir) => existingPath(ctx.cwd, dir, '--lora-dir', 'the LoRA folder'));
  const result = await runGeneration({
    prompts,
    negativePrompt: flags.negativePrompt ?? fromPng?.negativePrompt ?? DEFAULTS.negativePrompt,
    loraFiles: flags.lora.map((spec) => parseLoraFlag(spec, ctx.cwd)),
    loraDirs: loraDirs.length > 0 ? loraDirs : [resolve(ctx.cwd, 'output')],
    libraryLoras: libraryLoraLookup(workspace),
    baseModel:
      flags.baseModel === undefined ? null : existingPath(ctx.cwd, flags.baseModel, '--base-model', 'the base model'),
    seed: flags.seed ?? fromPng?.seed ?? DEFAULTS.seed,
    // Left to the base model when not given: Flux has its own (src/generate/flux-generate.ts).
    steps: flags.steps ?? fromPng?.steps ?? null,
    cfgScale: flags.cfgScale ?? fromPng?.cfgScale ?? null,
    sampler: flags.sampler ?? fromPng?.sampler ?? DEFAULTS.sampler,
    scheduleType: flags.scheduleType ?? fromPng?.scheduleType ?? DEFAULTS.scheduleType,
    width: flags.width ?? fromPng?.width ?? null,
    height: flags.height ?? fromPng?.height ?? null,
    batchCount: flags.batchCount ?? DEFAULTS.batchCount,
    batchSize: flags.batchSize ?? DEFAULTS.batchSize,
    outDir: resolve(ctx.cwd, flags.out ?? 'output/images'),
    expectedHashes: fromPng ? { model: fromPng.modelHash, loras: fromPng.loraHashes } : undefined,
    env: ctx.env,
    verbose: ctx.verbose,
    note: (line) => process.stderr.write(`${line}\n`),
    onEvent: (event) => {
      if (event.type === 'sample') process.stderr.write(`image ${event.step} done\n`);
      else if (event.type === 'warning') process.stderr.write(`warning: ${event.message}\n`);
    },
  });
  for (const image of result.images) process.stdout.write(`${image.path}\n`);
  return 0;
}

/**
 * The flags as a studio `generate` job's config. The prompts file is read here; the paths are the server's. The job
 * applies its one LoRA at full strength: another weight goes in the prompt (`<lora:NAME:0.7>`).
 */
function generateJobConfig(flags: FlagValues<typeof GENERATE_FLAGS.flags>, cwd: string): Record<string, unknown> {
  const fromFile =
    flags.promptsFile === undefined
      ? []
      : promptLines(existingPath(cwd, flags.promptsFile, '--prompts-file', 'the prompts file'));
  const prompts = [...flags.prompt, ...fromFile];
  if (prompts.length === 0) throw new UsageError('`--prompt TEXT` is required', { code: 'usage', culprit: 'generate' });
  if (flags.lora.length > 1 || /:[\d.+-]+$/.test(flags.lora[0] ?? ''))
    throw new UsageError('a job on a server takes one `--lora FILE`, at full strength', {
      code: 'usage',
      culprit: '--lora',
      hint: "give other LoRAs and weights in the prompt: `<lora:NAME:0.7>` (found under the workspace's output/)",
    });
  const given = (key: string, value: unknown) => (value === undefined ? {} : { [key]: value });
  return {
    prompts,
    ...given('negative_prompt', flags.negativePrompt),
    ...given('lora', flags.lora[0]),
    ...given('base_model', flags.baseModel),
    ...(flags.seed === undefined || flags.seed === -1 ? {} : { seeds: [flags.seed] }),
    ...given('steps', flags.steps),
    ...given('cfg_scale', flags.cfgScale),
    ...given('sampler', flags.sampler),
    ...given('width', flags.width),
    ...given('height', flags.height),
    ...given('out_dir', flags.out),
  };
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
  if (parameters === undefined)
    throw new UsageError('the image has no WebUI `parameters` text', {
      code: 'png_parameters',
      culprit: path,
      hint: 'pass a PNG written by WebUI or `lora-scripts generate`',
    });
  return parseParametersText(parameters, path);
}

/** `FILE`, `FILE:WEIGHT` or `FILE:TE_WEIGHT:UNET_WEIGHT`; the weights come off the end, so a path may hold `:`. */
export function parseLoraFlag(spec: string, cwd: string): LoraFileReference {
  const parts = spec.split(':');
  const weights: number[] = [];
  while (parts.length > 1 && weights.length < 2 && /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(parts.at(-1)!))
    weights.unshift(Number(parts.pop()));
  const path = existingPath(cwd, parts.join(':'), '--lora', 'the LoRA file');
  const teWeight = weights[0] ?? 1;
  return { path, teWeight, unetWeight: weights[1] ?? teWeight };
}

/** A path that must exist, resolved against the working folder. */
function existingPath(cwd: string, path: string, culprit: string, what: string): string {
  const full = resolve(cwd, path);
  if (!existsSync(full))
    throw new UsageError(`${what} \`${path}\` does not exist`, {
      code: 'file_missing',
      culprit,
      hint: `relative paths start at ${cwd}`,
    });
  return full;
}

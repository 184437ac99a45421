// `lora-scripts auto-label --input DIR [--model M]`: drafts captions into metadata.csv with a model or the rule-based captioner.
import { relative, resolve } from 'node:path';
import { isEngineReady, setupEngine, type EngineEvent } from '../../engine/index.js';
import { namedFew } from '../../dataset/index.js';
import { UsageError } from '../../errors.js';
import { autoLabel, FLORENCE_CAPTION_TASKS, modelCaptioner, modelSource, type Captioner } from '../../label/index.js';
import type { CommandContext } from '../context.js';

export async function autoLabelCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  if (typeof flags.input !== 'string') throw new UsageError('`--input DIR` is required', { code: 'usage', culprit: 'auto-label' });
  const inputDir = resolve(ctx.cwd, flags.input);
  const outputCsv = resolve(ctx.cwd, typeof flags.output === 'string' ? flags.output : `${flags.input}/metadata.csv`);
  const captioner = flags.model === undefined ? undefined : engineCaptioner(flags, inputDir, ctx);
  if (!captioner) process.stderr.write('auto-label: no captioning model given, using the rule-based captioner (trigger word + folder name + shape, light and colour)\n');
  const result = await autoLabel({
    inputDir,
    outputCsv,
    shouldOverwrite: Boolean(flags.overwrite),
    isDryRun: Boolean(flags.dryRun),
    triggerWord: flags.triggerWord as string | undefined,
    prefix: flags.prefix as string | undefined,
    suffix: flags.suffix as string | undefined,
    captioner,
  });
  if (flags.dryRun) for (const row of result.rows) process.stdout.write(`${row.isNew ? 'new ' : 'kept'}  ${row.fileName}: ${row.caption}\n`);
  if (result.emptyDrafts.length > 0) {
    process.stderr.write(`warning: the model gave ${result.emptyDrafts.length} images an empty caption (${namedFew(result.emptyDrafts)}); write those by hand\n`);
  }
  if (result.orphaned.length > 0) {
    process.stderr.write(`warning: ${result.orphaned.length} captions belong to images that are gone (${namedFew(result.orphaned)}); ${flags.dryRun ? 'they would be moved' : 'moved them'} to ${result.orphanedCsv}\n`);
  }
  process.stderr.write(`${flags.dryRun ? 'would write' : 'wrote'} ${result.written} captions, kept ${result.kept} existing ones${flags.dryRun ? '' : ` in ${outputCsv}`}\n`);
  return 0;
}

function engineCaptioner(flags: Record<string, unknown>, inputDir: string, ctx: CommandContext): Captioner {
  const model = modelSource(String(flags.model), ctx.cwd);
  const task = String(flags.task);
  if (!(FLORENCE_CAPTION_TASKS as readonly string[]).includes(task)) {
    throw new UsageError(`\`--task ${task}\` is not a Florence-2 caption task`, { code: 'usage', culprit: '--task', hint: `use one of ${FLORENCE_CAPTION_TASKS.map((t) => `\`${t}\``).join(', ')}` });
  }
  const options = {
    batchSize: numberFlag(flags, 'batchSize', '--batch-size', { isInteger: true, min: 1 }),
    threshold: numberFlag(flags, 'threshold', '--threshold', { min: 0, max: 1 }),
    maxTokens: numberFlag(flags, 'maxTokens', '--max-tokens', { isInteger: true, min: 1 }),
  };
  const log = (line: string) => process.stderr.write(line + '\n');
  const captioner = modelCaptioner({ model, task, ...options, env: ctx.env, verbose: ctx.verbose, onEvent: progressPrinter(log, inputDir) });
  return async (images) => {
    if (!isEngineReady(ctx.env)) setupEngine({ env: ctx.env, log });
    log(`auto-label: captioning ${images.length} images with \`${String(flags.model)}\``);
    return captioner(images);
  };
}

/** The engine's choices and one line per captioned image, on stderr (stdout is for the dry run's rows). */
function progressPrinter(log: (line: string) => void, inputDir: string): (event: EngineEvent) => void {
  return (event) => {
    if (event.type === 'hello') log(`engine ${event.engine} on ${event.device} (${event.dtype}: ${event.dtype_reason})`);
    else if (event.type === 'stage') log(event.message);
    else if (event.type === 'caption') log(`[${event.index}/${event.total}] ${relative(inputDir, event.image)}`);
  };
}

function numberFlag(flags: Record<string, unknown>, key: string, flag: string, range: { isInteger?: boolean; min: number; max?: number }): number {
  const value = Number(flags[key]);
  const isValid = Number.isFinite(value) && (!range.isInteger || Number.isInteger(value)) && value >= range.min && (range.max === undefined || value <= range.max);
  if (!isValid) {
    const wanted = range.isInteger ? `a whole number ≥ ${range.min}` : `a number from ${range.min} to ${range.max}`;
    throw new UsageError(`\`${flag} ${String(flags[key])}\` must be ${wanted}`, { code: 'usage', culprit: flag });
  }
  return value;
}

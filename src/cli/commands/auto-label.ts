// `lora-scripts auto-label --input DIR [--model M]`: drafts captions into metadata.csv with a model or the rule-based captioner.
import { relative, resolve } from 'node:path';
import { isEngineReady, setupEngine, type EngineEvent } from '../../engine/index.js';
import { namedFew } from '../../dataset/index.js';
import { autoLabel, modelCaptioner, modelSource, type Captioner } from '../../label/index.js';
import { AUTO_LABEL_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags, type FlagValues } from '../flag-values.js';
import { refuseLocalOnlyFlags, submitToServer } from '../server-client.js';

type AutoLabelFlags = FlagValues<typeof AUTO_LABEL_FLAGS.flags>;

export async function autoLabelCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(AUTO_LABEL_FLAGS, given);
  if (flags.server !== undefined) {
    refuseLocalOnlyFlags(given, ['output', 'dryRun']);
    return submitToServer({ ...flags, server: flags.server }, 'auto-label', autoLabelJobConfig(flags));
  }
  const inputDir = resolve(ctx.cwd, flags.input);
  const outputCsv = resolve(ctx.cwd, flags.output ?? `${flags.input}/metadata.csv`);
  const captioner = flags.model === undefined ? undefined : engineCaptioner(flags.model, flags, inputDir, ctx);
  if (!captioner)
    process.stderr.write(
      'auto-label: no captioning model given, using the rule-based captioner (trigger word + folder name + shape, light and colour)\n',
    );
  const result = await autoLabel({
    inputDir,
    outputCsv,
    shouldOverwrite: flags.overwrite,
    isDryRun: flags.dryRun,
    triggerWord: flags.triggerWord,
    prefix: flags.prefix,
    suffix: flags.suffix,
    captioner,
  });
  if (flags.dryRun)
    for (const row of result.rows)
      process.stdout.write(`${row.isNew ? 'new ' : 'kept'}  ${row.fileName}: ${row.caption}\n`);
  if (result.emptyDrafts.length > 0) {
    process.stderr.write(
      `warning: the model gave ${result.emptyDrafts.length} images an empty caption (${namedFew(result.emptyDrafts)}); write those by hand\n`,
    );
  }
  if (result.orphaned.length > 0) {
    process.stderr.write(
      `warning: ${result.orphaned.length} captions belong to images that are gone (${namedFew(result.orphaned)}); ${flags.dryRun ? 'they would be moved' : 'moved them'} to ${result.orphanedCsv}\n`,
    );
  }
  process.stderr.write(
    `${flags.dryRun ? 'would write' : 'wrote'} ${result.written} captions, kept ${result.kept} existing ones${flags.dryRun ? '' : ` in ${outputCsv}`}\n`,
  );
  return 0;
}

/** The flags as a studio `auto-label` job's config; the model options only go with a model. */
function autoLabelJobConfig(flags: AutoLabelFlags): Record<string, unknown> {
  const given = (key: string, value: unknown) => (value === undefined ? {} : { [key]: value });
  return {
    dataset: flags.input,
    ...given('trigger_word', flags.triggerWord),
    ...given('prefix', flags.prefix),
    ...given('suffix', flags.suffix),
    overwrite: flags.overwrite,
    ...(flags.model === undefined
      ? {}
      : {
          model: flags.model,
          batch_size: flags.batchSize,
          task: flags.task,
          threshold: flags.threshold,
          max_tokens: flags.maxTokens,
        }),
  };
}

function engineCaptioner(modelFlag: string, flags: AutoLabelFlags, inputDir: string, ctx: CommandContext): Captioner {
  const model = modelSource(modelFlag, ctx.cwd);
  const { task, batchSize, threshold, maxTokens } = flags;
  const options = { batchSize, threshold, maxTokens };
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const captioner = modelCaptioner({
    model,
    task,
    ...options,
    env: ctx.env,
    verbose: ctx.verbose,
    onEvent: progressPrinter(log, inputDir),
  });
  return async (images) => {
    if (!isEngineReady(ctx.env)) setupEngine({ env: ctx.env, log });
    log(`auto-label: captioning ${images.length} images with \`${modelFlag}\``);
    return captioner(images);
  };
}

/** The engine's choices and one line per captioned image, on stderr (stdout is for the dry run's rows). */
function progressPrinter(log: (line: string) => void, inputDir: string): (event: EngineEvent) => void {
  return (event) => {
    if (event.type === 'hello')
      log(`engine ${event.engine} on ${event.device} (${event.dtype}: ${event.dtype_reason})`);
    else if (event.type === 'stage') log(event.message);
    else if (event.type === 'caption') log(`[${event.index}/${event.total}] ${relative(inputDir, event.image)}`);
  };
}

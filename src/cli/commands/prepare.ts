// `lora-scripts prepare DIR --out DIR`: check every picture and caption, write a cropped/resized (or bucketed) copy
// without the flagged pictures, and the reports. The originals are only read.
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { prepareDataset, reportTable, strictFailureOf, type QualityThresholds } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { UsageError } from '../../errors.js';
import { TOOL_VERSION } from '../../version.js';
import { PREPARE_FLAGS, THRESHOLD_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags, type FlagValues } from '../flag-values.js';
import { refuseLocalOnlyFlags, submitToServer } from '../server-client.js';

function readThresholds(flags: FlagValues<typeof PREPARE_FLAGS.flags>): QualityThresholds {
  const entries = Object.entries(THRESHOLD_FLAGS).map(([flag, { key }]) => [
    key,
    flags[flag as keyof typeof THRESHOLD_FLAGS],
  ]);
  return Object.fromEntries(entries) as QualityThresholds;
}

/** The flags as a studio `prepare` job's config (snake_case keys; the thresholds by their own names). */
function prepareJobConfig(dir: string, flags: FlagValues<typeof PREPARE_FLAGS.flags>): Record<string, unknown> {
  const thresholds = Object.entries(readThresholds(flags)).map(([key, value]) => [
    key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`),
    value,
  ]);
  return {
    dataset: dir,
    ...(flags.out === undefined ? {} : { out: flags.out }),
    target: flags.target,
    crop: flags.crop,
    buckets: flags.buckets,
    strict: flags.strict,
    ...(flags.triggerWord === undefined ? {} : { trigger_word: flags.triggerWord }),
    caption_extension: flags.captionExtension,
    ...Object.fromEntries(thresholds),
  };
}

export async function prepareCommand(
  dir: string | undefined,
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const flags = parseFlags(PREPARE_FLAGS, given);
  if (dir === undefined)
    throw new UsageError('the image folder is required: `lora-scripts prepare DIR --out DIR`', {
      code: 'usage',
      culprit: 'prepare',
    });
  if (flags.server !== undefined) {
    refuseLocalOnlyFlags(given, ['metadata', 'json', 'jobs']);
    return submitToServer({ ...flags, server: flags.server }, 'prepare', prepareJobConfig(dir, flags));
  }
  const inputDir = resolve(ctx.cwd, dir);
  const outDir = resolve(ctx.cwd, flags.out ?? join(dirname(inputDir), `${basename(inputDir)}-prepared`));
  // Two pictures per core: while one waits on the disk or on JS, the other keeps libvips busy (bench/RESULTS-prepare.md).
  const jobs = flags.jobs ?? 2 * availableParallelism();
  const isTty = process.stderr.isTTY === true;
  const result = await prepareDataset({
    inputDir,
    outDir,
    targetPx: flags.target,
    crop: flags.crop,
    useBuckets: flags.buckets,
    isStrict: flags.strict,
    triggerWord: flags.triggerWord ?? null,
    thresholds: readThresholds(flags),
    metadataPath: flags.metadata === undefined ? null : resolve(ctx.cwd, flags.metadata),
    captionExtension: flags.captionExtension,
    tokenizerDir: CLIP_TOKENIZER_DIR,
    jobs,
    toolVersion: TOOL_VERSION,
    onProgress: isTty
      ? (phase, done, total) =>
          process.stderr.write(
            `\r${phase === 'inspect' ? 'checking' : 'writing'} ${done}/${total}${done === total ? '\n' : ''}`,
          )
      : undefined,
  });
  const { report, jsonPath, htmlPath } = result;
  process.stderr.write(reportTable(report, htmlPath));
  process.stderr.write(`\nreport: ${htmlPath}\n        ${jsonPath}\n`);
  const strictFailure = strictFailureOf(result, inputDir);
  if (strictFailure) throw strictFailure;
  if (report.captions_from === 'none') {
    // Drafted in the input folder, not the prepared one: a re-run of prepare replaces the prepared folder.
    process.stderr.write(
      `note: no captions found (metadata.csv or .txt files); \`lora-scripts auto-label --input ${dir}\` can draft them, then run prepare again\n`,
    );
  }
  process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : `${outDir}\n`);
  return 0;
}

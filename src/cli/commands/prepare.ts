// `lora-scripts prepare DIR --out DIR`: check every picture and caption, write a cropped/resized (or bucketed) copy
// without the flagged pictures, and the reports. The originals are only read.
import { availableParallelism } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { DEFAULT_THRESHOLDS, prepareDataset, reportTable, type CropPosition, type QualityThresholds } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { DatasetError, UsageError } from '../../errors.js';
import { TOOL_VERSION } from '../../version.js';
import type { CommandContext } from '../context.js';
import { THRESHOLD_FLAGS } from '../prepare-flags.js';

import { DEFAULT_TARGET_PX } from '../prepare-flags.js';
const CROPS: readonly CropPosition[] = ['center', 'attention', 'entropy'];

function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function numberFlag(flags: Record<string, unknown>, flag: string, fallback: number, check: (n: number) => boolean, allowed: string): number {
  const raw = flags[camel(flag)];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || !check(value)) throw new UsageError(`expected ${allowed}, got \`${String(raw)}\``, { code: 'usage', culprit: `--${flag}` });
  return value;
}

function readThresholds(flags: Record<string, unknown>): QualityThresholds {
  const thresholds = { ...DEFAULT_THRESHOLDS };
  for (const { flag, key } of THRESHOLD_FLAGS) thresholds[key] = numberFlag(flags, flag, DEFAULT_THRESHOLDS[key], (n) => n >= 0, 'a number ≥ 0');
  if (thresholds.maxUpscale < 1) throw new UsageError(`expected a number ≥ 1, got \`${thresholds.maxUpscale}\``, { code: 'usage', culprit: '--max-upscale' });
  if (thresholds.maxAspect < 1) throw new UsageError(`expected a number ≥ 1, got \`${thresholds.maxAspect}\``, { code: 'usage', culprit: '--max-aspect' });
  return thresholds;
}

export async function prepareCommand(dir: string | undefined, flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  if (dir === undefined) throw new UsageError('the image folder is required: `lora-scripts prepare DIR --out DIR`', { code: 'usage', culprit: 'prepare' });
  const inputDir = resolve(ctx.cwd, dir);
  const outDir = resolve(ctx.cwd, typeof flags.out === 'string' ? flags.out : join(dirname(inputDir), `${basename(inputDir)}-prepared`));
  const crop = String(flags.crop ?? 'center') as CropPosition;
  if (!CROPS.includes(crop)) throw new UsageError(`expected one of ${CROPS.join(', ')}, got \`${crop}\``, { code: 'usage', culprit: '--crop' });
  const targetPx = numberFlag(flags, 'target', DEFAULT_TARGET_PX, (n) => Number.isInteger(n) && n >= 64 && n <= 4096 && n % 8 === 0, 'a whole number from 64 to 4096, a multiple of 8');
  // Two pictures per core: while one waits on the disk or on JS, the other keeps libvips busy (bench/RESULTS-prepare.md).
  const jobs = numberFlag(flags, 'jobs', 2 * availableParallelism(), (n) => Number.isInteger(n) && n >= 1 && n <= 64, 'a whole number from 1 to 64');
  const isTty = process.stderr.isTTY === true;
  const { report, jsonPath, htmlPath } = await prepareDataset({
    inputDir,
    outDir,
    targetPx,
    crop,
    useBuckets: Boolean(flags.buckets),
    isStrict: Boolean(flags.strict),
    triggerWord: typeof flags.triggerWord === 'string' ? flags.triggerWord : null,
    thresholds: readThresholds(flags),
    metadataPath: typeof flags.metadata === 'string' ? resolve(ctx.cwd, flags.metadata) : null,
    captionExtension: String(flags.captionExtension ?? '.txt'),
    tokenizerDir: CLIP_TOKENIZER_DIR,
    jobs,
    toolVersion: TOOL_VERSION,
    onProgress: isTty ? (phase, done, total) => process.stderr.write(`\r${phase === 'inspect' ? 'checking' : 'writing'} ${done}/${total}${done === total ? '\n' : ''}`) : undefined,
  });
  process.stderr.write(reportTable(report, htmlPath));
  process.stderr.write(`\nreport: ${htmlPath}\n        ${jsonPath}\n`);
  if (report.status === 'failed') {
    const first = report.findings.find((f) => f.severity !== 'warn')!;
    throw new DatasetError(`${report.summary.excluded} ${report.summary.excluded === 1 ? 'picture was' : 'pictures were'} flagged (--strict), the first: ${first.message}`, {
      code: 'prepare_strict',
      culprit: join(inputDir, first.image),
      hint: `see ${htmlPath}; without --strict, prepare writes the copy and leaves them out`,
    });
  }
  if (report.captions_from === 'none') {
    // Drafted in the input folder, not the prepared one: a re-run of prepare replaces the prepared folder.
    process.stderr.write(`note: no captions found (metadata.csv or .txt files); \`lora-scripts auto-label --input ${dir}\` can draft them, then run prepare again\n`);
  }
  process.stdout.write(flags.json ? JSON.stringify(report, null, 2) + '\n' : outDir + '\n');
  return 0;
}

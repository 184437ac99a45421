// `prepare`, the shell: inspects every picture, runs the quality and caption rules, and writes the prepared copy
// (cropped and resized, or bucketed) with metadata.csv and the reports. The originals are only ever read.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import sharp from 'sharp';
import { DatasetError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { assignBucket, makeBuckets, type Bucket } from './buckets.js';
import { readCaptionSource } from './caption-source.js';
import { metadataCsvText } from './captions.js';
import { checkImages, countByRule, excludedImages } from './check.js';
import { readClipBpe } from './clip-tokenizer-files.js';
import { sortFindings, type Finding, type ImageRecord, type QualityThresholds } from './findings.js';
import { inspectImage } from './inspect-image.js';
import { mapWithLimit } from './map-with-limit.js';
import { PREPARE_REPORT_VERSION, reportHtml, type PrepareReport } from './prepare-report.js';
import { outputFormatOf, preparedPathOf, uniquePaths } from './prepared-copy.js';
import { listImageFiles } from './read.js';
import { IMAGE_EXTENSIONS } from './scan.js';

export type CropPosition = 'center' | 'attention' | 'entropy';

export interface PrepareOptions {
  inputDir: string;
  outDir: string;
  targetPx: number;
  crop: CropPosition;
  useBuckets: boolean;
  isStrict: boolean;
  triggerWord: string | null;
  thresholds: QualityThresholds;
  /** `null`: `<inputDir>/metadata.csv` if it exists, else caption files. */
  metadataPath: string | null;
  captionExtension: string;
  /** The shipped CLIP tokenizer folder; `null` skips the caption-length rule. */
  tokenizerDir: string | null;
  /** Pictures processed at once. */
  jobs: number;
  toolVersion: string;
  onProgress?: (phase: 'inspect' | 'write', done: number, total: number) => void;
}

export interface PrepareResult {
  report: PrepareReport;
  jsonPath: string;
  htmlPath: string;
}

export const REPORT_JSON = 'prepare-report.json';
export const REPORT_HTML = 'prepare-report.html';

/** The prepared folder is `prepare`'s own: never the input, never inside it, never a folder of someone else's files. */
function checkFolders(inputDir: string, outDir: string): void {
  if (!existsSync(inputDir) || !statSync(inputDir).isDirectory())
    throw new DatasetError('is not a folder', { code: 'dataset_missing', culprit: inputDir });
  const isInside = (child: string, parent: string) => child === parent || child.startsWith(parent + sep);
  if (isInside(outDir, inputDir) || isInside(inputDir, outDir)) {
    throw new UsageError('the prepared copy must go outside the input folder (and the input outside it)', {
      code: 'out_overlaps_input',
      culprit: outDir,
      hint: `choose a sibling folder, e.g. \`--out ${join(dirname(inputDir), `${basename(inputDir)}-prepared`)}\``,
    });
  }
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !existsSync(join(outDir, REPORT_JSON))) {
    throw new UsageError(`the output folder holds files \`prepare\` did not write (no ${REPORT_JSON})`, {
      code: 'out_not_prepared_folder',
      culprit: outDir,
      hint: 'choose a new or empty folder with `--out`; prepare replaces only its own earlier output',
    });
  }
}

async function inspectAll(
  options: PrepareOptions,
  relPaths: readonly string[],
  captions: ReadonlyMap<string, string>,
): Promise<ImageRecord[]> {
  let done = 0;
  return mapWithLimit(relPaths, options.jobs, async (relPath) => {
    const measured = await inspectImage(join(options.inputDir, relPath));
    options.onProgress?.('inspect', ++done, relPaths.length);
    return { image: relPath, caption: captions.get(relPath) ?? null, ...measured };
  });
}

async function writePrepared(source: string, target: string, size: Bucket, crop: CropPosition): Promise<void> {
  const pipeline = sharp(source, { failOn: 'truncated' })
    .rotate()
    .resize(size.widthPx, size.heightPx, { fit: 'cover', position: crop === 'center' ? 'centre' : crop });
  const format = outputFormatOf(target);
  const encoded =
    format === 'jpeg'
      ? pipeline.jpeg({ quality: 95 })
      : format === 'webp'
        ? pipeline.webp({ quality: 95 })
        : pipeline.png();
  // No per-file temp+rename here: the whole staging folder is renamed into place at the end.
  mkdirSync(dirname(target), { recursive: true });
  await encoded.toFile(target);
}

/** Small JPEG data URIs of the flagged pictures, for the self-contained HTML page. */
async function thumbnailsOf(options: PrepareOptions, images: readonly string[]): Promise<Map<string, string>> {
  const thumbnails = new Map<string, string>();
  await mapWithLimit(images, options.jobs, async (image) => {
    try {
      const jpeg = await sharp(join(options.inputDir, image))
        .rotate()
        .resize(160, 160, { fit: 'inside' })
        .jpeg({ quality: 70 })
        .toBuffer();
      thumbnails.set(image, `data:image/jpeg;base64,${jpeg.toString('base64')}`);
    } catch {
      // unreadable: the page says "no preview"
    }
  });
  return thumbnails;
}

/** Moves the finished staging folder into place; an earlier prepared copy is removed only once the new one is there. */
function swapIntoPlace(staging: string, outDir: string): void {
  const old = `${outDir}.old-${process.pid}`;
  if (existsSync(outDir)) renameSync(outDir, old);
  renameSync(staging, outDir);
  rmSync(old, { recursive: true, force: true });
}

/**
 * A `strict` run that flagged pictures (the report says `failed`): the error naming the first of them, or null.
 * The reports are written either way; the caller decides when to throw it (after showing them).
 */
export function strictFailureOf({ report, htmlPath }: PrepareResult, inputDir: string): DatasetError | null {
  if (report.status !== 'failed') return null;
  const first = report.findings.find((f) => f.severity !== 'warn')!;
  return new DatasetError(
    `${report.summary.excluded} ${report.summary.excluded === 1 ? 'picture was' : 'pictures were'} flagged (--strict), the first: ${first.message}`,
    {
      code: 'prepare_strict',
      culprit: join(inputDir, first.image),
      hint: `see ${htmlPath}; without --strict, prepare writes the copy and leaves them out`,
    },
  );
}

export async function prepareDataset(options: PrepareOptions): Promise<PrepareResult> {
  const inputDir = resolve(options.inputDir);
  const outDir = resolve(options.outDir);
  checkFolders(inputDir, outDir);
  const files = listImageFiles(inputDir);
  if (files.length === 0) {
    throw new DatasetError(`no images found (looked for ${IMAGE_EXTENSIONS.join(' ')})`, {
      code: 'dataset_empty',
      culprit: inputDir,
      hint: 'point `prepare` at the folder that holds the pictures',
    });
  }
  const source = readCaptionSource(inputDir, files, {
    metadataPath: options.metadataPath,
    captionExtension: options.captionExtension,
  });
  const buckets = options.useBuckets
    ? makeBuckets({ resolutionPx: options.targetPx, maxAspect: options.thresholds.maxAspect })
    : null;
  const checkOptions = {
    thresholds: options.thresholds,
    targetPx: options.targetPx,
    buckets,
    triggerWord: options.triggerWord,
    bpe: options.tokenizerDir ? readClipBpe(options.tokenizerDir) : null,
  };

  const records = await inspectAll(
    { ...options, inputDir },
    files.map((f) => f.relPath),
    source.captions,
  );
  const findings = sortFindings([...checkImages(records, checkOptions), ...source.findings]);
  const excluded = excludedImages(findings);
  const isFailed = options.isStrict && excluded.size > 0;
  const kept = isFailed ? [] : records.filter((record) => !excluded.has(record.image));
  const sizeOf = (record: ImageRecord): Bucket =>
    buckets
      ? assignBucket(buckets, record.width, record.height).bucket
      : { widthPx: options.targetPx, heightPx: options.targetPx };
  const outputs = new Map(
    uniquePaths(kept.map((record) => preparedPathOf(record.image, buckets ? sizeOf(record) : null))).map((path, i) => [
      kept[i]!.image,
      path,
    ]),
  );

  const staging = `${outDir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    let written = 0;
    await mapWithLimit(kept, options.jobs, async (record) => {
      await writePrepared(
        join(inputDir, record.image),
        join(staging, outputs.get(record.image)!),
        sizeOf(record),
        options.crop,
      );
      options.onProgress?.('write', ++written, kept.length);
    });
    const captioned = kept.filter((record) => record.caption !== null);
    if (captioned.length > 0)
      writeFileAtomic(
        join(staging, 'metadata.csv'),
        metadataCsvText(captioned.map((r) => ({ fileName: outputs.get(r.image)!, caption: r.caption! }))),
      );
    const report = buildReport({
      options,
      inputDir,
      outDir,
      captionsFrom: source.origin,
      records,
      findings,
      excluded,
      outputs,
      sizeOf,
      buckets,
      isFailed,
    });
    writeFileAtomic(join(staging, REPORT_JSON), `${JSON.stringify(report, null, 2)}\n`);
    const pictures = new Set(records.map((r) => r.image));
    const flagged = [...new Set(findings.map((f) => f.image))].filter((image) => pictures.has(image));
    writeFileAtomic(
      join(staging, REPORT_HTML),
      reportHtml(report, await thumbnailsOf({ ...options, inputDir }, flagged)),
    );
    swapIntoPlace(staging, outDir);
    return { report, jsonPath: join(outDir, REPORT_JSON), htmlPath: join(outDir, REPORT_HTML) };
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

interface ReportInput {
  options: PrepareOptions;
  inputDir: string;
  outDir: string;
  captionsFrom: string;
  records: readonly ImageRecord[];
  findings: readonly Finding[];
  excluded: ReadonlySet<string>;
  outputs: ReadonlyMap<string, string>;
  sizeOf: (record: ImageRecord) => Bucket;
  buckets: readonly Bucket[] | null;
  isFailed: boolean;
}

function buildReport(input: ReportInput): PrepareReport {
  const { options, records, findings, excluded, outputs } = input;
  const t = options.thresholds;
  const bucketCounts = new Map<string, { width_px: number; height_px: number; images: number }>();
  for (const record of records) {
    if (!input.buckets || !outputs.has(record.image)) continue;
    const size = input.sizeOf(record);
    const key = `${size.widthPx}x${size.heightPx}`;
    const entry = bucketCounts.get(key) ?? { width_px: size.widthPx, height_px: size.heightPx, images: 0 };
    entry.images++;
    bucketCounts.set(key, entry);
  }
  return {
    schema_version: PREPARE_REPORT_VERSION,
    tool_version: options.toolVersion,
    status: input.isFailed ? 'failed' : 'ok',
    input_dir: input.inputDir,
    output_dir: input.outDir,
    captions_from: input.captionsFrom,
    options: {
      target_px: options.targetPx,
      crop: options.crop,
      buckets: options.useBuckets,
      strict: options.isStrict,
      trigger_word: options.triggerWord,
      thresholds: {
        max_upscale: t.maxUpscale,
        min_sharpness: t.minSharpness,
        min_bright_percentile: t.minBrightPercentile,
        max_dark_percentile: t.maxDarkPercentile,
        min_contrast: t.minContrast,
        max_aspect: t.maxAspect,
        duplicate_distance: t.duplicateDistance,
        min_caption_words: t.minCaptionWords,
        duplicate_caption_count: t.duplicateCaptionCount,
      },
    },
    summary: {
      images: records.length,
      kept: records.length - excluded.size,
      excluded: excluded.size,
      warnings: findings.filter((f) => f.severity === 'warn').length,
      rotated_upright: records.filter((r) => r.unreadable === null && r.orientation !== 1).length,
      by_rule: countByRule(findings),
    },
    buckets: input.buckets
      ? [...bucketCounts.values()].sort((a, b) => a.width_px / a.height_px - b.width_px / b.height_px)
      : null,
    images: records.map((record) => ({
      image: record.image,
      status: excluded.has(record.image) ? 'excluded' : 'kept',
      output: outputs.get(record.image) ?? null,
      width_px: record.width,
      height_px: record.height,
      exif_orientation: record.orientation,
      caption: record.caption,
      stats: record.stats && {
        sharpness: round(record.stats.sharpness, 5),
        brightness: round(record.stats.brightness, 2),
        contrast: round(record.stats.contrast, 2),
        dark_percentile: record.stats.darkPercentile,
        bright_percentile: record.stats.brightPercentile,
      },
      hash: record.hash,
      size: outputs.has(record.image)
        ? { width_px: input.sizeOf(record).widthPx, height_px: input.sizeOf(record).heightPx }
        : null,
    })),
    findings: [...findings],
  };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

// `auto-label`: drafts captions for the images of a folder into metadata.csv (or `<stem>.txt` files beside them),
// never replacing a caption a person wrote.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { captionFileFor, listImageFiles, metadataCsvText, parseMetadataCsv } from '../dataset/index.js';
import { DatasetError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { styledCaption, type CaptionStyle } from './caption-style.js';
import { ruleCaption } from './rule-caption.js';

export interface ImageToCaption {
  /** Path inside the input folder, as written in metadata.csv. */
  relPath: string;
  path: string;
}

/** Drafts one caption body per image, in order (the trigger word, prefix and suffix are added afterwards). */
export type Captioner = (images: readonly ImageToCaption[]) => Promise<string[]>;

/**
 * Where captions are read and written: a metadata.csv (the CLI's default), or caption files with this extension
 * beside each picture (the studio's datasets, whose caption editor writes `<stem>.txt`).
 */
export type CaptionTarget = { outputCsv: string } | { captionExtension: string };

export type AutoLabelOptions = CaptionStyle &
  CaptionTarget & {
    inputDir: string;
    shouldOverwrite: boolean;
    isDryRun: boolean;
    /** Default: the rule-based captioner. `modelCaptioner(…)` runs BLIP, Florence-2 or a WD14 tagger in the engine. */
    captioner?: Captioner;
  };

export interface AutoLabelResult {
  written: number;
  kept: number;
  rows: { fileName: string; caption: string; isNew: boolean }[];
  /** Images the captioner had nothing to say about (their row holds only the trigger word, prefix and suffix). */
  emptyDrafts: string[];
  /** Rows whose image is gone: moved out of metadata.csv (training would stop on them) into `orphanedCsv`, not lost. */
  orphaned: string[];
  orphanedCsv: string;
  /** The caption files written (caption-file target only; empty for a CSV or a dry run). */
  captionFiles: string[];
}

/** Where rows of images that no longer exist go: `metadata.csv` → `metadata.orphaned.csv`. */
export function orphanedCsvPath(outputCsv: string): string {
  return outputCsv.replace(/(\.csv)?$/i, '.orphaned.csv');
}

export async function autoLabel(options: AutoLabelOptions): Promise<AutoLabelResult> {
  if (!existsSync(options.inputDir))
    throw new DatasetError('folder not found', { code: 'dataset_missing', culprit: options.inputDir });
  const images = listImageFiles(options.inputDir).map(({ relPath }) => ({
    relPath,
    path: join(options.inputDir, relPath),
  }));
  const existing = new Map(
    'outputCsv' in options
      ? readRows(options.outputCsv)
      : readCaptionFiles(options.inputDir, images, options.captionExtension),
  );
  if (images.length === 0)
    throw new DatasetError('no images found', { code: 'dataset_empty', culprit: options.inputDir });
  // Only images without a caption are drafted (all of them with --overwrite): the model never even sees the rest.
  const toCaption = images.filter((image) => options.shouldOverwrite || !existing.get(image.relPath));
  const bodies = toCaption.length > 0 ? await (options.captioner ?? ruleCaptioner)(toCaption) : [];
  const drafted = new Map(toCaption.map((image, i) => [image.relPath, styledCaption(bodies[i] ?? '', options)]));
  const rows = images.map(({ relPath }) => {
    const draft = drafted.get(relPath);
    return draft === undefined
      ? { fileName: relPath, caption: existing.get(relPath) ?? '', isNew: false }
      : { fileName: relPath, caption: draft, isNew: true };
  });
  const emptyDrafts = toCaption.filter((_, i) => !bodies[i]?.trim()).map((image) => image.relPath);
  const counts = { written: drafted.size, kept: rows.length - drafted.size, rows, emptyDrafts };
  if (!('outputCsv' in options)) {
    // One file per drafted picture; the caption files of the others are not touched.
    const files = [...drafted].map(([relPath, caption]) => ({
      path: join(options.inputDir, captionFileFor(relPath, options.captionExtension)),
      caption,
    }));
    if (!options.isDryRun) for (const file of files) writeFileAtomic(file.path, `${file.caption}\n`);
    const captionFiles = options.isDryRun ? [] : files.map((file) => file.path);
    return { ...counts, orphaned: [], orphanedCsv: '', captionFiles };
  }
  const present = new Set(images.map((image) => image.relPath));
  const orphaned = [...existing].filter(([fileName, caption]) => !present.has(fileName) && caption.trim() !== '');
  const orphanedCsv = orphanedCsvPath(options.outputCsv);
  if (!options.isDryRun) {
    // A caption someone wrote for a picture that was moved or renamed is kept aside, never silently dropped.
    if (orphaned.length > 0) writeFileAtomic(orphanedCsv, metadataCsvText(mergeRows(readRows(orphanedCsv), orphaned)));
    writeFileAtomic(options.outputCsv, metadataCsvText(rows));
  }
  return { ...counts, orphaned: orphaned.map(([fileName]) => fileName), orphanedCsv, captionFiles: [] };
}

/** The captions already beside the pictures; an empty file counts as no caption. */
function readCaptionFiles(inputDir: string, images: readonly ImageToCaption[], extension: string): [string, string][] {
  return images.flatMap(({ relPath }) => {
    const file = join(inputDir, captionFileFor(relPath, extension));
    return existsSync(file) ? [[relPath, readFileSync(file, 'utf8').trim()] as [string, string]] : [];
  });
}

function readRows(csvPath: string): [string, string][] {
  return existsSync(csvPath) ? parseMetadataCsv(readFileSync(csvPath, 'utf8')).map((r) => [r.fileName, r.caption]) : [];
}

/** Earlier orphans stay; a newer caption for the same file name replaces the older one. */
function mergeRows(older: [string, string][], newer: [string, string][]): { fileName: string; caption: string }[] {
  return [...new Map([...older, ...newer])].map(([fileName, caption]) => ({ fileName, caption }));
}

/** The fallback captioner: folder name, shape, light and main colour, measured with sharp. */
export const ruleCaptioner: Captioner = async (images) => {
  const bodies: string[] = [];
  for (const { path } of images) {
    const image = sharp(path).rotate();
    const [{ width = 0, height = 0 }, stats] = await Promise.all([image.metadata(), image.stats()]);
    const [r, g, b] = stats.channels.map((c) => c.mean) as [number, number, number];
    bodies.push(ruleCaption({ folder: basename(dirname(path)), width, height, meanRgb: [r, g ?? r, b ?? r] }, {}));
  }
  return bodies;
};

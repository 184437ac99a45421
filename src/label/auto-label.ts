// `auto-label`: drafts captions for the images of a folder into metadata.csv, never replacing a caption a person wrote.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import sharp from 'sharp';
import { listImageFiles, metadataCsvText, parseMetadataCsv } from '../dataset/index.js';
import { DatasetError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { ruleCaption, type CaptionStyle } from './rule-caption.js';

export interface AutoLabelOptions extends CaptionStyle {
  inputDir: string;
  outputCsv: string;
  shouldOverwrite: boolean;
  isDryRun: boolean;
}

export interface AutoLabelResult {
  written: number;
  kept: number;
  rows: { fileName: string; caption: string; isNew: boolean }[];
}

export async function autoLabel(options: AutoLabelOptions): Promise<AutoLabelResult> {
  if (!existsSync(options.inputDir)) throw new DatasetError('folder not found', { code: 'dataset_missing', culprit: options.inputDir });
  const existing = new Map(existsSync(options.outputCsv) ? parseMetadataCsv(readFileSync(options.outputCsv, 'utf8')).map((r) => [r.fileName, r.caption]) : []);
  const rows: AutoLabelResult['rows'] = [];
  for (const { relPath } of listImageFiles(options.inputDir)) {
    const kept = existing.get(relPath);
    if (kept && !options.shouldOverwrite) {
      rows.push({ fileName: relPath, caption: kept, isNew: false });
      continue;
    }
    const image = sharp(join(options.inputDir, relPath)).rotate();
    const [{ width = 0, height = 0 }, stats] = await Promise.all([image.metadata(), image.stats()]);
    const [r, g, b] = stats.channels.map((c) => c.mean) as [number, number, number];
    rows.push({ fileName: relPath, caption: ruleCaption({ folder: basename(dirname(join(options.inputDir, relPath))), width, height, meanRgb: [r, g ?? r, b ?? r] }, options), isNew: true });
  }
  if (rows.length === 0) throw new DatasetError('no images found', { code: 'dataset_empty', culprit: options.inputDir });
  if (!options.isDryRun) writeFileAtomic(options.outputCsv, metadataCsvText(rows));
  const written = rows.filter((r) => r.isNew).length;
  return { written, kept: rows.length - written, rows };
}

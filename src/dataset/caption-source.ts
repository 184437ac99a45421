// Captions for `prepare`, read leniently: unlike `readDataset` (which stops `train` on the first missing caption),
// every gap becomes a finding, so one run names them all.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatasetError } from '../errors.js';
import { captionFileFor, CsvSyntaxError, parseMetadataCsv } from './captions.js';
import type { Finding } from './findings.js';
import type { ImageFile } from './scan.js';

export interface CaptionSource {
  /** Where captions came from, for the report: a CSV path, `.txt files`, or `none`. */
  origin: string;
  /** Caption by image relPath; images without one have no entry. */
  captions: Map<string, string>;
  /** Rows naming files that are not images here, as warnings. */
  findings: Finding[];
}

/** `metadataPath` if given, else `<dir>/metadata.csv` if it exists, else caption files beside the images. */
export function readCaptionSource(
  dataDir: string,
  images: readonly ImageFile[],
  options: { metadataPath: string | null; captionExtension: string },
): CaptionSource {
  const csv =
    options.metadataPath ?? (existsSync(join(dataDir, 'metadata.csv')) ? join(dataDir, 'metadata.csv') : null);
  return csv !== null ? fromCsv(csv, images) : fromCaptionFiles(dataDir, images, options.captionExtension);
}

function fromCsv(csv: string, images: readonly ImageFile[]): CaptionSource {
  let rows: ReturnType<typeof parseMetadataCsv>;
  try {
    rows = parseMetadataCsv(readFileSync(csv, 'utf8'));
  } catch (error) {
    if (error instanceof CsvSyntaxError)
      throw new DatasetError(error.message, {
        code: 'metadata_syntax',
        culprit: `${csv}:${error.line}`,
        hint: 'each row is `file_name,caption`',
      });
    throw new DatasetError(`cannot be read (${(error as Error).message})`, {
      code: 'metadata_unreadable',
      culprit: csv,
    });
  }
  const known = new Set(images.map((image) => image.relPath));
  const captions = new Map<string, string>();
  const findings: Finding[] = [];
  for (const row of rows) {
    const relPath = row.fileName.replace(/\\/g, '/').replace(/^\.\//, '');
    if (!known.has(relPath)) {
      findings.push({
        image: row.fileName,
        rule: 'caption-without-image',
        severity: 'warn',
        message: `${csv}:${row.line} names a file that is not an image here`,
        hint: 'fix the file name (relative to the dataset folder) or remove the row',
      });
    } else if (row.caption !== '') captions.set(relPath, row.caption);
  }
  return { origin: csv, captions, findings };
}

function fromCaptionFiles(dataDir: string, images: readonly ImageFile[], extension: string): CaptionSource {
  const captions = new Map<string, string>();
  for (const image of images) {
    const file = join(dataDir, captionFileFor(image.relPath, extension));
    if (!existsSync(file)) continue;
    const caption = readFileSync(file, 'utf8').trim();
    if (caption !== '') captions.set(image.relPath, caption);
  }
  return { origin: captions.size > 0 ? `${extension} files` : 'none', captions, findings: [] };
}

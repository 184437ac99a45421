// The dataset shell: lists images, reads captions and checks every image decodes (sharp), then calls the pure core.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DatasetError } from '../errors.js';
import { captionFileFor, CsvSyntaxError, parseMetadataCsv } from './captions.js';
import { inspectImage, type MeasuredImage } from './inspect-image.js';
import { mapWithLimit } from './map-with-limit.js';
import { namedFew } from './name-list.js';
import { assembleDataset, isImageFile, repeatsOfFolder, type DatasetItem, type ImageFile } from './scan.js';

export interface ReadDatasetOptions {
  dataDir: string;
  /** `null`: captions come from files beside the images. */
  metadataPath: string | null;
  captionExtension: string;
}

export interface MeasuredItem extends DatasetItem {
  /** Absolute path. */
  path: string;
  width: number;
  height: number;
  /** What the quality rules read (sharpness, exposure, perceptual hash), measured in the same decode. */
  quality: MeasuredImage;
}

/** Images decoded at once: sharp decodes on libvips threads, so a few in flight keep every core busy. */
const READ_JOBS = 4;

/** Every image below `dataDir` (hidden entries skipped), sorted, with kohya `N_name` folder repeats. */
export function listImageFiles(dataDir: string): ImageFile[] {
  const found: ImageFile[] = [];
  const walk = (dir: string, repeats: number) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.')) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) walk(full, dir === dataDir ? repeatsOfFolder(entry.name) : repeats);
      else if (isImageFile(entry.name)) found.push({ relPath: relative(dataDir, full).split('\\').join('/'), repeats });
    }
  };
  walk(dataDir, 1);
  return found;
}

function readMetadata(metadataPath: string) {
  try {
    return parseMetadataCsv(readFileSync(metadataPath, 'utf8'));
  } catch (error) {
    if (error instanceof CsvSyntaxError) {
      throw new DatasetError(error.message, {
        code: 'metadata_syntax',
        culprit: `${metadataPath}:${error.line}`,
        hint: 'each row is `file_name,caption`',
      });
    }
    throw error;
  }
}

function readCaptionFiles(dataDir: string, images: ImageFile[], extension: string): Map<string, string> {
  const captions = new Map<string, string>();
  for (const image of images) {
    try {
      captions.set(image.relPath, readFileSync(join(dataDir, captionFileFor(image.relPath, extension)), 'utf8'));
    } catch {
      // no caption file: the core names the image
    }
  }
  return captions;
}

/** Decodes every image (truncated and corrupt files fail here, not an hour into training) and measures it for the
 * quality checks in the same pass. The first unreadable image in path order is the error. */
async function measureImages(dataDir: string, items: DatasetItem[]): Promise<MeasuredItem[]> {
  const measured = await mapWithLimit(items, READ_JOBS, async (item) => {
    const path = join(dataDir, item.relPath);
    const quality = await inspectImage(path);
    return { ...item, path, width: quality.width, height: quality.height, quality };
  });
  const unreadable = measured.filter((item) => item.quality.unreadable !== null);
  if (unreadable.length > 0) {
    const [first, ...others] = unreadable as [MeasuredItem, ...MeasuredItem[]];
    throw new DatasetError(
      `cannot be read as an image (${first.quality.unreadable})${others.length > 0 ? ` — and ${others.length} more: ${namedFew(others.map((item) => item.relPath))}` : ''}`,
      {
        code: 'image_unreadable',
        culprit: first.path,
        hint: `re-export ${others.length > 0 ? 'these pictures' : 'the picture'} as PNG or JPEG, or move ${others.length > 0 ? 'them' : 'it'} out of \`train_data_dir\``,
      },
    );
  }
  return measured;
}

export async function readDataset(options: ReadDatasetOptions): Promise<MeasuredItem[]> {
  if (!statSync(options.dataDir).isDirectory()) {
    throw new DatasetError('is not a folder', { code: 'dataset_missing', culprit: options.dataDir });
  }
  const images = listImageFiles(options.dataDir);
  const items = options.metadataPath
    ? assembleDataset(options.dataDir, images, {
        kind: 'metadata',
        file: options.metadataPath,
        rows: readMetadata(options.metadataPath),
      })
    : assembleDataset(options.dataDir, images, {
        kind: 'files',
        extension: options.captionExtension,
        captions: readCaptionFiles(options.dataDir, images, options.captionExtension),
      });
  return measureImages(options.dataDir, items);
}

/** pHash of an image file (EXIF orientation applied), the same hash `prepare` and `train` compare: see `perceptualHash`. */
export async function readPerceptualHash(path: string): Promise<string> {
  const { hash, unreadable } = await inspectImage(path);
  if (hash === null)
    throw new DatasetError(`cannot be read as an image (${unreadable})`, { code: 'image_unreadable', culprit: path });
  return hash;
}

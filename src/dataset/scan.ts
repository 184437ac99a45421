// Dataset assembly, pure: image listing + caption source → training items, or a DatasetError naming the culprit.
import { DatasetError } from '../errors.js';
import type { MetadataRow } from './captions.js';
import { namedFew } from './name-list.js';

export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'];

export interface ImageFile {
  /** Path relative to `train_data_dir`, with `/` separators. */
  relPath: string;
  /** Times each epoch sees the image (kohya `N_name` folders). */
  repeats: number;
}

export interface DatasetItem extends ImageFile {
  caption: string;
}

export function isImageFile(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

/** kohya convention: a folder named `10_jiangnan` repeats its images 10 times. */
export function repeatsOfFolder(folderName: string): number {
  const match = /^(\d+)_./.exec(folderName);
  return match ? Math.max(1, Number(match[1])) : 1;
}

export interface CaptionsFromMetadata {
  kind: 'metadata';
  /** As the user named it, for messages. */
  file: string;
  rows: MetadataRow[];
}

export interface CaptionsFromFiles {
  kind: 'files';
  extension: string;
  /** Caption text by image relPath; missing images have no entry. */
  captions: Map<string, string>;
}

export function assembleDataset(
  dataDir: string,
  images: ImageFile[],
  source: CaptionsFromMetadata | CaptionsFromFiles,
): DatasetItem[] {
  if (images.length === 0) {
    throw new DatasetError(`no images found (looked for ${IMAGE_EXTENSIONS.join(' ')})`, {
      code: 'dataset_empty',
      culprit: dataDir,
      hint: 'point `train_data_dir` at the folder that holds the pictures',
    });
  }
  return source.kind === 'metadata' ? fromMetadata(dataDir, images, source) : fromCaptionFiles(dataDir, images, source);
}

function fromMetadata(dataDir: string, images: ImageFile[], source: CaptionsFromMetadata): DatasetItem[] {
  const byPath = new Map(images.map((image) => [image.relPath, image]));
  const seen = new Set<string>();
  const items: DatasetItem[] = [];
  for (const row of source.rows) {
    const relPath = row.fileName.replace(/\\/g, '/').replace(/^\.\//, '');
    const image = byPath.get(relPath);
    if (!image) {
      throw new DatasetError(`\`${row.fileName}\` is not an image in ${dataDir}`, {
        code: 'caption_without_image',
        culprit: `${source.file}:${row.line}`,
        hint: 'file names are relative to `train_data_dir`; fix the name or remove the row',
      });
    }
    if (row.caption === '') {
      throw new DatasetError('empty caption', {
        code: 'caption_empty',
        culprit: `${source.file}:${row.line}`,
        hint: `write a caption for ${row.fileName} (subject, scene, style, detail), or remove the row and the image`,
      });
    }
    if (seen.has(relPath)) {
      throw new DatasetError(`\`${row.fileName}\` is listed twice`, {
        code: 'caption_duplicate_row',
        culprit: `${source.file}:${row.line}`,
        hint: 'keep one row per image',
      });
    }
    seen.add(relPath);
    items.push({ ...image, caption: row.caption });
  }
  const [uncaptioned, ...alsoUncaptioned] = images.filter((image) => !seen.has(image.relPath));
  if (uncaptioned) {
    const more =
      alsoUncaptioned.length > 0
        ? ` — and ${alsoUncaptioned.length} more: ${namedFew(alsoUncaptioned.map((i) => i.relPath))}`
        : '';
    throw new DatasetError(`image has no caption in ${source.file}${more}`, {
      code: 'image_without_caption',
      culprit: `${dataDir}/${uncaptioned.relPath}`,
      hint: 'add a `file_name,caption` row for it, or move the image out of `train_data_dir`',
    });
  }
  return items;
}

function fromCaptionFiles(dataDir: string, images: ImageFile[], source: CaptionsFromFiles): DatasetItem[] {
  const [first, ...others] = images.filter((image) => !source.captions.get(image.relPath)?.trim());
  if (first) {
    const caption = source.captions.get(first.relPath);
    const why =
      caption === undefined
        ? `has no \`${source.extension}\` caption file and there is no metadata.csv`
        : `has an empty \`${source.extension}\` caption file`;
    const more =
      others.length > 0
        ? ` — and ${others.length} more ${others.length === 1 ? 'image has' : 'images have'} no caption`
        : '';
    throw new DatasetError(`image ${why}${more}`, {
      code: 'image_without_caption',
      culprit: `${dataDir}/${first.relPath}`,
      hint: 'write a caption beside it, or set `metadata_path`; `lora-scripts auto-label` can draft captions',
    });
  }
  return images.map((image) => ({ ...image, caption: source.captions.get(image.relPath)!.trim() }));
}

/** kohya's `ss_tag_frequency`: per image folder, how often each comma-separated (lower-cased) tag occurs. */
export function tagFrequency(items: DatasetItem[]): Record<string, Record<string, number>> {
  const result: Record<string, Record<string, number>> = {};
  for (const item of items) {
    const folder = item.relPath.includes('/') ? item.relPath.slice(0, item.relPath.indexOf('/')) : '.';
    result[folder] ??= {};
    const counts = result[folder];
    for (const tag of item.caption
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean))
      counts[tag] = (counts[tag] ?? 0) + 1;
  }
  return result;
}

/** kohya's `ss_dataset_dirs`: per image folder, repeats and image count. */
export function datasetDirs(items: DatasetItem[]): Record<string, { n_repeats: number; img_count: number }> {
  const result: Record<string, { n_repeats: number; img_count: number }> = {};
  for (const item of items) {
    const folder = item.relPath.includes('/') ? item.relPath.slice(0, item.relPath.indexOf('/')) : '.';
    result[folder] ??= { n_repeats: item.repeats, img_count: 0 };
    const entry = result[folder];
    entry.img_count++;
  }
  return result;
}

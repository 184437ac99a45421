// The dataset shell: finds, lists, reads and creates dataset folders in the workspace, and writes captions and
// settings atomically. Every path goes through `resolveInWorkspace`; the pictures are only ever read.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { captionFileFor, listImageFiles } from '../../dataset/index.js';
import { mapWithLimit } from '../../dataset/map-with-limit.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { resolveInWorkspace } from '../security/index.js';
import { checkDatasetName, DATASETS_DIR, datasetPath, isDatasetName } from './dataset-name.js';
import { type DatasetSettings, parseSettings, SETTINGS_FILE, settingsText, triggerWordOf } from './dataset-settings.js';
import { DatasetRequestError, datasetNotFound } from './request-error.js';

/** A dataset folder found in the workspace: its name and its real, confined path. */
export interface DatasetFolder {
  workspace: string;
  name: string;
  dir: string;
}

export interface DatasetSummary {
  name: string;
  path: string;
  images: number;
  captioned: number;
  trigger_word: string | null;
  updated_at: string;
}

export interface DatasetImage {
  file: string;
  path: string;
  caption: string | null;
  width: number;
  height: number;
  bytes: number;
}

/** Pictures measured at once: sharp reads only the header, so the disk is the limit. */
const MEASURE_JOBS = 8;

/** The dataset `name`, or a 400 for a bad name, a 403 for a symlink out of the workspace, a 404 when there is none. */
export function findDataset(workspace: string, name: string): DatasetFolder {
  checkDatasetName(name);
  const dir = resolveInWorkspace(workspace, datasetPath(name));
  if (!isDirectory(dir)) throw datasetNotFound(name);
  return { workspace, name, dir };
}

/** A new, empty dataset folder; 409 when one of that name exists. */
export function createDataset(workspace: string, name: string): DatasetFolder {
  checkDatasetName(name);
  mkdirSync(resolveInWorkspace(workspace, DATASETS_DIR), { recursive: true });
  const dir = resolveInWorkspace(workspace, datasetPath(name));
  try {
    mkdirSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    throw new DatasetRequestError(409, 'already exists', {
      code: 'dataset_exists',
      culprit: `dataset \`${name}\``,
      hint: 'choose another name, or upload into the existing dataset',
      field: 'name',
    });
  }
  return { workspace, name, dir };
}

/** Every dataset under `datasets/`, by name; folders with names the API cannot address, or leading out, are left out. */
export function listDatasets(workspace: string): DatasetSummary[] {
  const root = resolveInWorkspace(workspace, DATASETS_DIR);
  if (!isDirectory(root)) return [];
  const names = readdirSync(root)
    .filter(isDatasetName)
    .sort((a, b) => a.localeCompare(b));
  return names.flatMap((name) => {
    try {
      return [summarizeDataset(findDataset(workspace, name))];
    } catch {
      return [];
    }
  });
}

export function summarizeDataset(folder: DatasetFolder): DatasetSummary {
  const images = imageFiles(folder);
  const captions = readCaptions(folder, images);
  const settingsPath = join(folder.dir, SETTINGS_FILE);
  const times = [
    folder.dir,
    settingsPath,
    ...images.flatMap((file) => [imagePath(folder, file), captionPath(folder, file)]),
  ]
    .map(modifiedMs)
    .filter((ms) => ms !== null);
  return {
    name: folder.name,
    path: datasetPath(folder.name),
    images: images.length,
    captioned: captions.filter((record) => record.caption !== null).length,
    trigger_word: triggerWordOf(readSettings(folder)),
    updated_at: new Date(Math.max(...times)).toISOString(),
  };
}

/** Every picture with its caption, size after EXIF orientation, and bytes. */
export async function readDatasetImages(folder: DatasetFolder): Promise<DatasetImage[]> {
  const captions = readCaptions(folder, imageFiles(folder));
  return mapWithLimit(captions, MEASURE_JOBS, async ({ image, caption }) => {
    const path = imagePath(folder, image);
    return {
      file: image,
      path: `${datasetPath(folder.name)}/${image}`,
      caption,
      ...(await orientedSize(path)),
      bytes: sizeBytes(path),
    };
  });
}

/** The dataset's pictures (relative paths, sorted), leaving out any that a symlink leads out of the workspace. */
export function imageFiles(folder: DatasetFolder): string[] {
  return listImageFiles(folder.dir)
    .map((image) => image.relPath)
    .filter((file) => isConfined(folder, file));
}

/** Each picture's caption: its `<stem>.txt`, trimmed; null when there is none or it is empty. */
export function readCaptions(
  folder: DatasetFolder,
  images: readonly string[],
): { image: string; caption: string | null }[] {
  return images.map((image) => {
    const file = captionFileFor(image, '.txt');
    if (!isConfined(folder, file)) return { image, caption: null };
    try {
      const caption = readFileSync(join(folder.dir, file), 'utf8').trim();
      return { image, caption: caption === '' ? null : caption };
    } catch {
      return { image, caption: null };
    }
  });
}

/** Writes the caption of picture `file` (which must be one of the dataset's) to its `<stem>.txt`, atomically. */
export function writeCaption(folder: DatasetFolder, file: string, caption: string): void {
  if (!imageFiles(folder).includes(file)) {
    throw new DatasetRequestError(404, 'is not a picture of this dataset', {
      code: 'image_not_found',
      culprit: `file ${JSON.stringify(file)}`,
      hint: `GET /api/datasets/${folder.name} lists its pictures; \`file\` is relative to the dataset folder`,
      field: 'file',
    });
  }
  writeFileAtomic(
    resolveInWorkspace(folder.workspace, `${datasetPath(folder.name)}/${captionFileFor(file, '.txt')}`),
    caption,
  );
}

export function readSettings(folder: DatasetFolder): DatasetSettings {
  const path = join(folder.dir, SETTINGS_FILE);
  if (!isConfined(folder, SETTINGS_FILE) || !existsSync(path)) return {};
  try {
    return parseSettings(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
}

export function writeSettings(folder: DatasetFolder, settings: DatasetSettings): void {
  writeFileAtomic(
    resolveInWorkspace(folder.workspace, `${datasetPath(folder.name)}/${SETTINGS_FILE}`),
    settingsText(settings),
  );
}

async function orientedSize(path: string): Promise<{ width: number; height: number }> {
  try {
    const { autoOrient } = await sharp(path).metadata();
    return { width: autoOrient.width, height: autoOrient.height };
  } catch {
    return { width: 0, height: 0 };
  }
}

/**
 * A file of the dataset stays in the workspace: a symlink placed by hand could lead out, and the API never follows
 * one out. Only the file itself can be a symlink here: `listImageFiles` does not descend into symlinked folders and
 * the dataset folder is a real path, so a plain file costs one lstat, which keeps a lint call on a large dataset fast.
 */
function isConfined(folder: DatasetFolder, file: string): boolean {
  try {
    if (!lstatSync(join(folder.dir, file)).isSymbolicLink()) return true;
  } catch {
    return true; // missing: there is nothing to follow
  }
  try {
    resolveInWorkspace(folder.workspace, `${datasetPath(folder.name)}/${file}`);
    return true;
  } catch {
    return false;
  }
}

function imagePath(folder: DatasetFolder, file: string): string {
  return join(folder.dir, file);
}

function captionPath(folder: DatasetFolder, file: string): string {
  return join(folder.dir, captionFileFor(file, '.txt'));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** 0 for a picture removed since it was listed: the listing is a snapshot, not a lock. */
function sizeBytes(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function modifiedMs(path: string): number | null {
  try {
    return lstatSync(path).mtimeMs;
  } catch {
    return null;
  }
}

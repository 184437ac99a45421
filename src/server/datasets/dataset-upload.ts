// The upload shell: takes files from a multipart form or a zip, keeps the pictures and captions, and writes them
// into the dataset. Everything is checked before the first write; files go to a hidden staging folder and are
// moved into place only when all of them were written, so a failed upload leaves the dataset as it was, and an
// existing file is never replaced.
import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, lstatSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { checkZipEntries, resolveInWorkspace, type ZipLimits } from '../security/index.js';
import type { DatasetFolder } from './dataset-folder.js';
import { datasetPath } from './dataset-name.js';
import {
  captionTextProblem,
  checkUploadedFiles,
  classifyUpload,
  type UploadKind,
  type UploadSkip,
} from './upload-files.js';
import { readZipDirectory, readZipEntry } from './zip-archive.js';

/** One file of an upload at its checked relative path; `read` gives its bytes when the upload gets to it. */
export interface UploadSource {
  path: string;
  read: () => Promise<Uint8Array> | Uint8Array;
}

export interface UploadResult {
  /** Dataset-relative paths written, in upload order. */
  added: string[];
  skipped: UploadSkip[];
}

/** The files of a multipart upload, checked against the limits before any is read. */
export function formSources(files: readonly File[], limits: ZipLimits): UploadSource[] {
  const paths = checkUploadedFiles(
    files.map((file) => ({ name: file.name, sizeBytes: file.size })),
    limits,
  );
  return files.map((file, index) => ({
    path: paths[index]!,
    read: async () => new Uint8Array(await file.arrayBuffer()),
  }));
}

/** The file entries of a zip, its whole directory checked against the limits before any entry is inflated. */
export function zipSources(zip: Uint8Array, limits: ZipLimits): UploadSource[] {
  const entries = readZipDirectory(zip);
  const names = checkZipEntries(entries, limits);
  return entries.flatMap((entry, index) =>
    entry.isDirectory ? [] : [{ path: names[index]!, read: () => readZipEntry(zip, entry) }],
  );
}

export async function addToDataset(folder: DatasetFolder, sources: readonly UploadSource[]): Promise<UploadResult> {
  const staging = join(folder.dir, `.upload-${randomBytes(6).toString('hex')}`);
  const staged: { path: string; target: string }[] = [];
  const added: string[] = [];
  const skipped: UploadSkip[] = [];
  try {
    for (const source of sources) {
      const outcome = await stageFile(folder, source, staging);
      if ('skip' in outcome) skipped.push({ file: source.path, reason: outcome.skip });
      else staged.push({ path: source.path, target: outcome.target });
    }
    for (const { path, target } of staged) {
      if (moveIntoPlace(join(staging, path), target)) added.push(path);
      else skipped.push({ file: path, reason: TAKEN });
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return { added, skipped };
}

const TAKEN = 'the dataset already has a file of that name; delete or rename one of them';

/**
 * Moves a staged file to `target` unless a file is there by now (another upload at the same time): a hard link
 * fails on an existing name where a rename would replace it. File systems without hard links (FAT, some network
 * shares) get a rename after a last look. False when the name was taken.
 */
function moveIntoPlace(staged: string, target: string): boolean {
  mkdirSync(dirname(target), { recursive: true });
  try {
    linkSync(staged, target);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error;
  }
  if (exists(target)) return false;
  renameSync(staged, target);
  return true;
}

async function stageFile(
  folder: DatasetFolder,
  source: UploadSource,
  staging: string,
): Promise<{ target: string } | { skip: string }> {
  const decision = classifyUpload(source.path);
  if ('skip' in decision) return decision;
  // Confined like any path from a request: a folder of the dataset that is a symlink out of the workspace is refused.
  const target = resolveInWorkspace(folder.workspace, `${datasetPath(folder.name)}/${source.path}`);
  if (exists(target)) return { skip: TAKEN };
  if (fileInTheWay(folder.dir, source.path))
    return { skip: 'a file of the dataset has the name of one of its folders' };
  const bytes = await source.read();
  const problem = await contentProblem(decision.kind, bytes);
  if (problem !== null) return { skip: problem };
  // The original bytes, as sent: a picture is never re-encoded.
  writeFileAtomic(join(staging, source.path), bytes);
  return { target };
}

async function contentProblem(kind: UploadKind, bytes: Uint8Array): Promise<string | null> {
  if (kind === 'caption') return captionTextProblem(bytes);
  try {
    await sharp(bytes).metadata();
    return null;
  } catch (error) {
    return `cannot be read as a picture (${(error as Error).message}); re-export it as PNG or JPEG`;
  }
}

/** A parent of `path` that exists in the dataset as a file, not a folder. */
function fileInTheWay(dir: string, path: string): boolean {
  const segments = path.split('/').slice(0, -1);
  return segments.some((_, index) => {
    const parent = join(dir, ...segments.slice(0, index + 1));
    return existsSync(parent) && !statSync(parent).isDirectory();
  });
}

/** lstat, so a dangling symlink counts as taken too. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return existsSync(path);
  }
}

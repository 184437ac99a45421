// Pure: which uploaded files a dataset takes (pictures and `.txt` captions, at safe relative paths) and which it
// skips, with the reason shown to the user; the limits of one upload, checked before anything is written.
import { IMAGE_EXTENSIONS } from '../../dataset/scan.js';
import type { ZipLimits } from '../security/index.js';
import { splitRelativePath } from '../security/relative-path.js';
import { DatasetRequestError } from './request-error.js';

export type UploadKind = 'image' | 'caption';

export interface UploadSkip {
  file: string;
  reason: string;
}

/** One file as sent: its name (a relative path from a folder upload) and its size. */
export interface UploadedFile {
  name: string;
  sizeBytes: number;
}

/** One path segment: the most bytes common file systems (ext4, APFS, NTFS) allow in a name. */
const MAX_SEGMENT_BYTES = 255;
/** A whole relative path: deep enough for any real folder, well inside every system's PATH_MAX with the workspace. */
const MAX_PATH_BYTES = 1024;
const CONTROL_CHARACTERS = /\p{Cc}/u;
/** Folders that archivers and file browsers add on their own; nobody means to train on them. */
const SYSTEM_FOLDERS = new Set(['__macosx']);

/** The bytes a body may have: the unpacked total plus room for multipart headers or the zip directory per file. */
export function uploadBodyLimitBytes(limits: ZipLimits): number {
  return limits.maxTotalBytes + limits.maxFiles * 1024 + 1024 * 1024;
}

/**
 * The safe relative path of each file of a multipart upload (same order: `./a//b.png` → `a/b.png`), or an error
 * naming the first file at fault: too many, too large, an unsafe path, or two files landing on one name.
 */
export function checkUploadedFiles(files: readonly UploadedFile[], limits: ZipLimits): string[] {
  if (files.length === 0) throw uploadError(400, 'the upload holds no file', 'upload_empty', undefined);
  if (files.length > limits.maxFiles) {
    throw uploadError(
      413,
      `the upload has ${files.length} files, more than ${limits.maxFiles}; send fewer at once`,
      'upload_too_many_files',
      undefined,
    );
  }
  const seen = new Set<string>();
  let totalBytes = 0;
  const paths = files.map((file) => {
    const path = safeUploadPath(file.name);
    if (file.sizeBytes > limits.maxFileBytes) {
      throw uploadError(
        413,
        `is ${file.sizeBytes} bytes, more than ${limits.maxFileBytes}; shrink it`,
        'upload_file_too_large',
        file.name,
      );
    }
    totalBytes += file.sizeBytes;
    if (totalBytes > limits.maxTotalBytes) {
      throw uploadError(
        413,
        `brings the upload past ${limits.maxTotalBytes} bytes; send fewer files at once`,
        'upload_too_large',
        file.name,
      );
    }
    const key = path.normalize('NFC').toLowerCase();
    if (seen.has(key)) throw uploadError(400, 'is sent twice; rename one of them', 'upload_duplicate_name', file.name);
    seen.add(key);
    return path;
  });
  checkFolderClash(paths, files);
  return paths;
}

/** A file cannot also be a folder of another file (`a.png` and `a.png/b.png`). */
function checkFolderClash(paths: readonly string[], files: readonly UploadedFile[]): void {
  const keys = new Set(paths.map((path) => path.normalize('NFC').toLowerCase()));
  paths.forEach((path, index) => {
    const segments = path.normalize('NFC').toLowerCase().split('/');
    for (let depth = 1; depth < segments.length; depth += 1) {
      const parent = segments.slice(0, depth).join('/');
      if (keys.has(parent)) {
        throw uploadError(
          400,
          `is inside \`${parent}\`, which is also sent as a file; rename one of them`,
          'upload_duplicate_name',
          files[index]!.name,
        );
      }
    }
  });
}

/** `name` as a relative path inside the dataset, or a 400 naming it. */
export function safeUploadPath(name: string): string {
  const split = splitRelativePath(name);
  if ('problem' in split) throw uploadError(400, split.problem, 'upload_path_unsafe', name);
  if (split.segments.length === 0) throw uploadError(400, 'names no file', 'upload_path_unsafe', name);
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) {
    throw uploadError(
      400,
      `is a path longer than ${MAX_PATH_BYTES} bytes; use shorter folder names`,
      'upload_path_unsafe',
      name,
    );
  }
  for (const segment of split.segments) {
    if (CONTROL_CHARACTERS.test(segment)) {
      throw uploadError(400, 'contains a control character; rename the file', 'upload_path_unsafe', name);
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) {
      throw uploadError(
        400,
        `has a name longer than ${MAX_SEGMENT_BYTES} bytes; rename it`,
        'upload_path_unsafe',
        name,
      );
    }
  }
  return split.segments.join('/');
}

/** What a dataset does with a file at a safe relative `path`: keep it as a picture or a caption, or skip it. */
export function classifyUpload(path: string): { kind: UploadKind } | { skip: string } {
  const segments = path.split('/');
  // A form's names were refused for these already; a zip's are skipped, as the rest of the archive is fine.
  if (
    segments.some((segment) => Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) ||
    Buffer.byteLength(path) > MAX_PATH_BYTES
  ) {
    return { skip: `a name longer than ${MAX_SEGMENT_BYTES} bytes, or a path longer than ${MAX_PATH_BYTES}` };
  }
  if (CONTROL_CHARACTERS.test(path)) return { skip: 'a name with a control character' };
  const fileName = segments[segments.length - 1]!;
  if (segments.some((segment) => segment.startsWith('.') || SYSTEM_FOLDERS.has(segment.toLowerCase()))) {
    return { skip: 'a hidden or system file (its name or a folder of it starts with `.`, or is `__MACOSX`)' };
  }
  const lower = fileName.toLowerCase();
  if (IMAGE_EXTENSIONS.some((extension) => lower.endsWith(extension))) return { kind: 'image' };
  if (lower.endsWith('.txt')) return { kind: 'caption' };
  if (lower === 'metadata.csv') {
    return { skip: 'captions here are `<picture name>.txt` files beside each picture; metadata.csv is not read' };
  }
  return { skip: `not a picture (${IMAGE_EXTENSIONS.join(' ')}) or a \`.txt\` caption` };
}

/** Why the bytes of a caption file cannot be a caption, or null when they can. */
export function captionTextProblem(bytes: Uint8Array): string | null {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return null;
  } catch {
    return 'is not UTF-8 text; save the caption as UTF-8';
  }
}

function uploadError(status: 400 | 413, why: string, code: string, file: string | undefined): DatasetRequestError {
  return new DatasetRequestError(status, why, {
    code,
    ...(file === undefined ? {} : { culprit: `file ${JSON.stringify(file)}` }),
    field: 'files',
  });
}

// Pure: checks a zip's central directory before anything is written, so a hostile archive is refused whole.
import { splitRelativePath } from './relative-path.js';
import { RequestRefused, showPath } from './refused.js';

/** One central-directory entry, as any zip reader reports it. */
export interface ZipEntry {
  name: string;
  uncompressedSize: number;
  isDirectory: boolean;
  isSymlink: boolean;
}

export interface ZipLimits {
  maxFiles: number;
  maxTotalBytes: number;
  maxFileBytes: number;
}

/**
 * The safe relative name of each entry (same order; `./a//b/` → `a/b`), or a RequestRefused naming the first bad
 * one. The sizes are what the archive claims: the extractor must still stop writing an entry past its claimed size.
 */
export function checkZipEntries(entries: readonly ZipEntry[], limits: ZipLimits): string[] {
  if (entries.length > limits.maxFiles) {
    throw new RequestRefused(413, `the zip has ${entries.length} entries, more than ${limits.maxFiles}; split it`, {
      code: 'zip_too_many_files',
    });
  }
  const names: string[] = [];
  const kinds = new Map<string, 'file' | 'folder'>();
  let totalBytes = 0;
  for (const entry of entries) {
    const name = safeName(entry);
    totalBytes += checkSize(entry, limits);
    if (totalBytes > limits.maxTotalBytes) {
      throw refuse(
        413,
        entry,
        `brings the unpacked size past ${limits.maxTotalBytes} bytes; split the zip`,
        'zip_too_large',
      );
    }
    claimName(kinds, name, entry);
    names.push(name);
  }
  return names;
}

function safeName(entry: ZipEntry): string {
  if (entry.isSymlink) throw refuse(400, entry, 'is a symlink; zip the files themselves', 'zip_entry_unsafe');
  const split = splitRelativePath(entry.name);
  if ('problem' in split) throw refuse(400, entry, split.problem, 'zip_entry_unsafe');
  if (split.segments.length === 0) throw refuse(400, entry, 'names no file or folder', 'zip_entry_unsafe');
  return split.segments.join('/');
}

function checkSize(entry: ZipEntry, limits: ZipLimits): number {
  const size = entry.uncompressedSize;
  if (!Number.isSafeInteger(size) || size < 0) {
    throw refuse(400, entry, `claims an impossible size (${size}); the zip is damaged`, 'zip_entry_unsafe');
  }
  if (size > limits.maxFileBytes) {
    throw refuse(413, entry, `is ${size} bytes, more than ${limits.maxFileBytes}; shrink it`, 'zip_file_too_large');
  }
  return size;
}

/**
 * Records `name` and its parent folders, refusing a second entry that lands on the same file: names are compared
 * case-folded and NFC-normalised, as macOS and Windows file systems would, and a file cannot also be a folder.
 */
function claimName(kinds: Map<string, 'file' | 'folder'>, name: string, entry: ZipEntry): void {
  const key = name.normalize('NFC').toLowerCase();
  const kind = entry.isDirectory ? 'folder' : 'file';
  const previous = kinds.get(key);
  if (previous === 'file') {
    throw refuse(400, entry, 'is a second entry for the same name; rename one of them', 'zip_duplicate_name');
  }
  if (previous === 'folder' && kind === 'file') {
    throw refuse(400, entry, 'is a file and also a folder in the zip; rename one of them', 'zip_duplicate_name');
  }
  kinds.set(key, kind);
  const parts = key.split('/');
  for (let depth = 1; depth < parts.length; depth += 1) {
    const parent = parts.slice(0, depth).join('/');
    if (kinds.get(parent) === 'file') {
      throw refuse(
        400,
        entry,
        `is inside \`${parent}\`, which is a file in the zip; rename one of them`,
        'zip_duplicate_name',
      );
    }
    kinds.set(parent, 'folder');
  }
}

function refuse(status: 400 | 413, entry: ZipEntry, why: string, code: string): RequestRefused {
  return new RequestRefused(status, why, { code, culprit: `zip entry ${showPath(entry.name)}` });
}

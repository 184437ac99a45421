// Finds the .safetensors files of the workspace: skips the studio's own folder, datasets, hidden entries and any
// symlink that leads outside; follows the symlinks that stay inside, each real folder once.
import { type Dirent, readdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { FileFacts } from './lora-entry.js';

/** Top-level folders that hold no LoRAs: the studio's database and uploads, and the training pictures. */
const SKIPPED_TOP_FOLDERS = new Set(['.lora-scripts', 'datasets']);
/** Deeper than any output folder a config names; stops a walk down a pathological tree. */
const MAX_DEPTH = 16;

export interface FoundFile extends FileFacts {
  /** The real path to read. */
  absolute: string;
}

export function findSafetensorsFiles(workspace: string): FoundFile[] {
  const root = realpathSync(workspace);
  const found: FoundFile[] = [];
  const visited = new Set<string>([root]);
  const walk = (folder: string, relativeFolder: string, depth: number): void => {
    for (const entry of readFolder(folder)) {
      if (entry.name.startsWith('.')) continue;
      if (depth === 0 && SKIPPED_TOP_FOLDERS.has(entry.name)) continue;
      const path = relativeFolder === '' ? entry.name : `${relativeFolder}/${entry.name}`;
      const target = realTarget(join(folder, entry.name), entry, root);
      if (target === null) continue;
      if (target.isFolder) {
        if (depth + 1 >= MAX_DEPTH || visited.has(target.real)) continue;
        visited.add(target.real);
        walk(target.real, path, depth + 1);
      } else if (entry.name.toLowerCase().endsWith('.safetensors')) {
        found.push({ path, absolute: target.real, bytes: target.bytes, modifiedAt: target.modifiedAt });
      }
    }
  };
  walk(root, '', 0);
  return found;
}

function readFolder(folder: string): Dirent[] {
  try {
    return readdirSync(folder, { withFileTypes: true });
  } catch {
    return []; // unreadable (permissions, removed meanwhile): nothing to list there
  }
}

interface RealTarget {
  real: string;
  isFolder: boolean;
  bytes: number;
  modifiedAt: Date;
}

/** The entry's real path and kind, or null for one outside the workspace, dangling, or neither file nor folder. */
function realTarget(path: string, entry: Dirent, root: string): RealTarget | null {
  try {
    const real = entry.isSymbolicLink() ? realpathSync(path) : path;
    if (!isInside(root, real)) return null;
    const stat = statSync(real);
    if (!stat.isFile() && !stat.isDirectory()) return null;
    return { real, isFolder: stat.isDirectory(), bytes: stat.size, modifiedAt: stat.mtime };
  } catch {
    return null;
  }
}

/** `path` is below `root`; `relative` rather than a prefix test, so `/work/ws2` is not inside `/work/ws`. */
function isInside(root: string, path: string): boolean {
  const below = relative(root, path);
  return below !== '' && below !== '..' && !below.startsWith(`..${sep}`) && !isAbsolute(below);
}

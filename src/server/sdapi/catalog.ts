// What the A1111 API lists and resolves: the workspace's base models (`models/`, as A1111's `models/Stable-diffusion`)
// and its LoRA files, by the names and hashes A1111 clients use.
import { closeSync, existsSync, openSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative, sep } from 'node:path';
import { checkBaseModel } from '../../checkpoint/index.js';
import { listLoraFiles, pickLora, type LoraCandidate } from '../../generate/index.js';
import { sha256OfFile } from '../../fs/file-hash.js';
import { LIBRARY_FOLDER, openLibrary, type StyleLibrary } from '../../library/index.js';
import type { DatabaseLocation } from '../../store/index.js';
import { readSafetensorsHeader } from '../../lora/index.js';
import { listWorkspaceLoras } from '../loras/index.js';

/** The folder of the workspace where base models live. */
export const MODELS_FOLDER = 'models';

export interface Checkpoint {
  /** `sub/name.safetensors [0123456789]`: what clients use as the id. */
  title: string;
  /** `sub_name`: the path without extension, separators as `_`. */
  model_name: string;
  hash: string;
  sha256: string;
  filename: string;
  config: string | null;
  /** The file stem: WebUI's `Model:` in an infotext. */
  stem: string;
  /** Path inside the models folder, `/`-separated, with extension. */
  relativePath: string;
}

// Hashing reads the whole file: once per file version per process.
const hashes = new Map<string, Promise<string>>();

function hashOf(path: string): Promise<string> {
  const stat = statSync(path);
  const key = `${path}\0${stat.size}\0${stat.mtimeMs}`;
  let hash = hashes.get(key);
  if (!hash) {
    hash = sha256OfFile(path);
    hashes.set(key, hash);
    hash.catch(() => hashes.delete(key));
  }
  return hash;
}

/** Every single-file base model under `<workspace>/models`, sorted by title; LoRAs and VAEs there are left out. */
export async function listCheckpoints(workspace: string): Promise<Checkpoint[]> {
  const root = join(workspace, MODELS_FOLDER);
  const files = existsSync(root) ? safetensorsUnder(root) : [];
  const checkpoints: Checkpoint[] = [];
  for (const filename of files) {
    try {
      checkBaseModel(filename, { culprit: filename, loraHint: '' });
    } catch {
      continue; // a LoRA, a VAE or a cut-off file: not a checkpoint to offer
    }
    const sha256 = await hashOf(filename);
    const relativePath = relative(root, filename).split(sep).join('/');
    const withoutExtension = relativePath.slice(0, -extname(relativePath).length);
    const yaml = `${filename.slice(0, -extname(filename).length)}.yaml`;
    checkpoints.push({
      title: `${relativePath} [${sha256.slice(0, 10)}]`,
      model_name: withoutExtension.replace(/[/\\]/g, '_'),
      hash: sha256.slice(0, 10),
      sha256,
      filename,
      config: existsSync(yaml) ? yaml : null,
      stem: basename(filename, extname(filename)),
      relativePath,
    });
  }
  return checkpoints.sort((a, b) => a.title.localeCompare(b.title));
}

function safetensorsUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.')) return [];
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return safetensorsUnder(path);
    return entry.isFile() && extname(entry.name).toLowerCase() === '.safetensors' ? [path] : [];
  });
}

/**
 * A checkpoint by any spelling A1111 accepts: its title, path (with or without extension), stem, `model_name`,
 * `name [hash]`, short hash or full sha256. Null when none matches.
 */
export function findCheckpoint(checkpoints: Checkpoint[], spelling: string): Checkpoint | null {
  const wanted = spelling.trim();
  const withoutHash = wanted.replace(/\s*\[[0-9a-f]{8,64}\]$/i, '');
  const matches = (c: Checkpoint) =>
    [c.title, c.relativePath, c.relativePath.slice(0, -extname(c.relativePath).length), c.stem, c.model_name].some(
      (name) => name === wanted || name === withoutHash,
    ) ||
    wanted.toLowerCase() === c.hash ||
    wanted.toLowerCase() === c.sha256;
  return checkpoints.find(matches) ?? null;
}

/**
 * The workspace's LoRA files (what `GET /api/loras` lists), with their names and aliases; the style library's own
 * folder is left out (its files are named by hash: the library names them).
 */
export function listLoras(workspace: string): LoraCandidate[] {
  const loraPaths = new Set(
    listWorkspaceLoras(workspace, [])
      .filter((entry) => !entry.path.startsWith(`${LIBRARY_FOLDER}/`))
      .map((entry) => join(workspace, entry.path)),
  );
  return listLoraFiles([workspace]).filter((candidate) => loraPaths.has(candidate.path));
}

/** The safetensors `__metadata__`, values that hold JSON objects decoded (as A1111's `/loras` gives them). */
export function loraMetadata(path: string): Record<string, unknown> {
  const fd = openSync(path, 'r');
  try {
    const metadata = readSafetensorsHeader(fd, path).metadata;
    return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, decodeJsonObject(value)]));
  } catch {
    return {};
  } finally {
    closeSync(fd);
  }
}

function decodeJsonObject(value: string): unknown {
  if (!value.trimStart().startsWith('{')) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** The names a prompt's `<lora:NAME>` can use: the style library's promoted styles, then the workspace's files. */
export interface LoraSources {
  /** A style of the library → its promoted version's absolute file; null when the library has no such style. */
  library(name: string): Promise<string | null>;
  /** The styles with a promoted version, with their files. */
  libraryStyles(): Promise<{ name: string; path: string }[]>;
}

/** The workspace's style library (src/library), opened per call: the app has no close hook for a long-lived one. */
export function workspaceLibrary(database: DatabaseLocation, workspace: string): LoraSources {
  /** Runs `read` on the library, or answers `none` where the workspace has no SQLite store yet (none is created). */
  async function withLibrary<T>(none: T, read: (library: StyleLibrary) => Promise<T>): Promise<T> {
    if (database.kind === 'sqlite' && !existsSync(database.file)) return none;
    const library = await openLibrary(database, { workspace });
    try {
      return await read(library);
    } finally {
      await library.close();
    }
  }
  return {
    library: (name) =>
      withLibrary(null, async (library) => {
        const found = await library.resolveLoraName(name);
        return found === null ? null : join(workspace, found.path);
      }),
    libraryStyles: () =>
      withLibrary([], async (library) => {
        const styles: { name: string; path: string }[] = [];
        for (const style of await library.listStyles()) {
          const found = style.promoted === null ? null : await library.resolveLoraName(style.name);
          if (found) styles.push({ name: style.name, path: join(workspace, found.path) });
        }
        return styles;
      }),
  };
}

/**
 * `<lora:NAME:…>` → its file: a promoted style of the library first, else a file of the workspace as WebUI
 * resolves it (the stem, then `ss_output_name`); an error names close names.
 */
export async function resolveLora(name: string, sources: LoraSources, workspace: string): Promise<string> {
  const fromLibrary = await sources.library(name);
  if (fromLibrary !== null) return fromLibrary;
  return pickLora(name, listLoras(workspace), [workspace], 'prompt').path;
}

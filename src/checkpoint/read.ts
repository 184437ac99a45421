// Reads what verdict.ts judges: one safetensors header (8 + N bytes, never the tensors) or a diffusers folder's
// JSON configs. Milliseconds even for a 7 GB SDXL file, so every command runs it before any other work.
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { looksLikeHubId } from '../config/index.js';
import { CheckpointError, LoraFileError } from '../errors.js';
import { readSafetensorsHeader } from '../lora/safetensors-file.js';
import { requireBaseModel, type BaseModelUse, type BaseModelVerdict } from './base-model.js';
import { hubVerdict, judgeDiffusersFolder, judgeSingleFile, type CheckpointVerdict } from './verdict.js';

const PICKLE_SUFFIXES = new Set(['.ckpt', '.pt', '.pth', '.bin']);

export interface InspectOptions {
  /** Relative paths start here; without it the path must be absolute (a resolved config's are) or a hub id. */
  cwd?: string;
  /** What errors name (default: the path as given). */
  culprit?: string;
}

/** The verdict on a .safetensors file, a diffusers folder or a hub id; throws only when there is nothing to judge. */
export function inspectCheckpoint(spec: string, options: InspectOptions): CheckpointVerdict {
  const culprit = options.culprit ?? spec;
  const path = options.cwd === undefined ? spec : resolve(options.cwd, spec);
  if (!existsSync(path)) {
    if (looksLikeHubId(spec, { cwd: options.cwd ?? '/', isFile: existsSync })) return hubVerdict();
    throw new CheckpointError('does not exist', {
      code: 'base_model_missing',
      culprit,
      hint: 'give a .safetensors file, a diffusers folder or a hub id like `owner/name`',
    });
  }
  if (statSync(path).isDirectory()) return judgeDiffusersFolder(readFolderFacts(path));
  if (PICKLE_SUFFIXES.has(extname(path).toLowerCase())) {
    throw new CheckpointError(`is a pickle checkpoint (${extname(path)}), which can run code when loaded`, {
      code: 'unsupported_model_format',
      culprit,
      hint: 'convert it to .safetensors (e.g. with the A1111 or ComfyUI checkpoint merger) and use that file',
    });
  }
  return judgeSingleFile(readHeader(path, culprit));
}

/** inspectCheckpoint + requireBaseModel: the pre-flight train, merge, generate and recommend run first. */
export function checkBaseModel(spec: string, use: BaseModelUse & InspectOptions): BaseModelVerdict {
  return requireBaseModel(inspectCheckpoint(spec, use), use);
}

function readHeader(path: string, culprit: string) {
  const fd = openSync(path, 'r');
  try {
    return readSafetensorsHeader(fd, path);
  } catch (error) {
    if (!(error instanceof LoraFileError)) throw error;
    // The header reader checks every tensor lies inside the file, so a cut-off download is caught here.
    throw new CheckpointError(`is not a readable .safetensors file (${error.message})`, {
      code: 'base_model_corrupt',
      culprit,
      hint: 'the file may be truncated: download it again and compare its size or hash',
      cause: error,
    });
  } finally {
    closeSync(fd);
  }
}

function readFolderFacts(folder: string) {
  const json = (...parts: string[]): Record<string, unknown> | null => {
    try {
      const value: unknown = JSON.parse(readFileSync(join(folder, ...parts), 'utf8'));
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : null;
    } catch {
      return null; // absent or unreadable: the verdict says what is missing, the engine's loader what is broken
    }
  };
  return {
    modelIndex: json('model_index.json'),
    unet: json('unet', 'config.json'),
    vae: json('vae', 'config.json'),
    textEncoder: json('text_encoder', 'config.json'),
    scheduler: json('scheduler', 'scheduler_config.json'),
    component: json('config.json'),
    transformer: json('transformer', 'config.json'),
  };
}

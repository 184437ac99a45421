// What a LoRA file says about itself for the library: its hash, the base model, lineage, steps and trigger word
// `train` recorded (header metadata, and `lora_scripts.json` when it describes this very file).
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { readSafetensorsHeader } from '../lora/index.js';
import { LINEAGE_METADATA_KEY, type Lineage } from '../train/index.js';
import { LibraryError } from './library-error.js';

export interface LoraFacts {
  /** Workspace-relative when the recorded base model is inside the workspace, else as recorded; null: unknown. */
  base_model: string | null;
  lineage: Lineage | null;
  steps: number | null;
  /** `trigger_word` of the run, when its record is beside the file. */
  trigger_words: string[];
}

export function readLoraFacts(path: string, workspace: string): LoraFacts {
  const metadata = readHeaderMetadata(path);
  const record = runRecordOf(path);
  const ssSteps = Number(metadata.ss_steps);
  const recordedBase = record?.base_model?.path ?? null;
  return {
    base_model: recordedBase === null ? null : inWorkspaceTerms(recordedBase, workspace),
    lineage: parseLineage(metadata[LINEAGE_METADATA_KEY]),
    steps: Number.isInteger(ssSteps) && metadata.ss_steps !== undefined ? ssSteps : null,
    trigger_words: typeof record?.config?.trigger_word === 'string' ? [record.config.trigger_word] : [],
  };
}

function readHeaderMetadata(path: string): Record<string, string> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw unreadable(path, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : String(error), error);
  }
  try {
    return readSafetensorsHeader(fd, path).metadata;
  } catch (error) {
    throw unreadable(path, error instanceof Error ? error.message : String(error), error);
  } finally {
    closeSync(fd);
  }
}

function unreadable(path: string, reason: string, cause: unknown): LibraryError {
  return new LibraryError(`is not a readable LoRA .safetensors file (${reason})`, {
    code: 'library_file_unreadable',
    culprit: basename(path),
    hint: 'add the `.safetensors` file `train` wrote (`lora-scripts inspect FILE` shows what a file holds)',
    cause,
  });
}

function parseLineage(raw: string | undefined): Lineage | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Lineage;
  } catch {
    return null; // a damaged entry: the version is still known by its hash
  }
}

interface RunRecord {
  config?: { output_name?: string; trigger_word?: string | null };
  base_model?: { path?: string };
}

/** `lora_scripts.json` beside the file, only when it describes this file (its output name or one of its steps). */
function runRecordOf(path: string): RunRecord | null {
  const recordPath = join(dirname(path), 'lora_scripts.json');
  if (!existsSync(recordPath)) return null;
  try {
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as RunRecord;
    const name = record.config?.output_name;
    const stem = basename(path, '.safetensors');
    return name !== undefined && (stem === name || stem.startsWith(`${name}-step`)) ? record : null;
  } catch {
    return null;
  }
}

function inWorkspaceTerms(path: string, workspace: string): string {
  if (!isAbsolute(path)) return path;
  const inside = relative(workspace, path);
  return inside.startsWith('..') || isAbsolute(inside) ? path : inside.split('\\').join('/');
}

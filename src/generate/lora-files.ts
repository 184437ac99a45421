// The file side of LoRAs and base models for `generate`: find `<lora:NAME>` in a list of folders (the seam the
// style library will call with its own folders), read a LoRA's hash and training facts, hash the base model.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { sha256OfFile } from '../fs/file-hash.js';
import { addnetHash, readSafetensorsHeader } from '../lora/index.js';
import { pickLora, type LoraCandidate } from './lora-names.js';

const LORA_EXTENSION = '.safetensors';

/** `<lora:NAME:…>` → the file, searching `folders` (and their sub-folders) as WebUI searches `models/Lora`. */
export function findLora(name: string, folders: string[], culprit: string): LoraCandidate {
  return pickLora(name, listLoraFiles(folders), folders, culprit);
}

/** Every `.safetensors` file under `folders` with its `ss_output_name`; hidden folders are skipped. */
export function listLoraFiles(folders: string[]): LoraCandidate[] {
  return folders
    .flatMap((folder) => (existsSync(folder) ? filesUnder(folder) : []))
    .map((path) => ({ path, stem: basename(path, LORA_EXTENSION), alias: aliasOf(path) }));
}

/** `ss_output_name`; a file whose header cannot be read still answers to its stem (and fails when loaded). */
function aliasOf(path: string): string | null {
  try {
    return readMetadata(path).ss_output_name ?? null;
  } catch {
    return null;
  }
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name.startsWith('.') || entry.name === 'node_modules') return [];
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() && extname(entry.name) === LORA_EXTENSION ? [path] : [];
  });
}

export function readMetadata(path: string): Record<string, string> {
  const fd = openSync(path, 'r');
  try {
    return readSafetensorsHeader(fd, path).metadata;
  } finally {
    closeSync(fd);
  }
}

/** WebUI's short LoRA hash: the first 12 hex digits of `sshs_model_hash`, computed when the file lacks it. */
export function loraShortHash(path: string): string {
  const stored = readMetadata(path).sshs_model_hash;
  return (stored ?? addnetHash(readFileSync(path), path)).slice(0, 12);
}

export interface LoraTrainingFacts {
  /** The base model it was trained on, when that file still exists (from `lora_scripts.json` beside it). */
  baseModelPath: string | null;
  /** `ss_sd_model_name`: the base model's file name, for the message when the path is unknown. */
  baseModelName: string | null;
  /** `ss_new_sd_model_hash`: the base model's full sha256. */
  baseModelSha256: string | null;
  /** The training size, the natural size to generate at. */
  resolutionPx: number | null;
}

/** What a LoRA says about its training; `lora_scripts.json` counts only if it describes this very file. */
export function readLoraTrainingFacts(path: string): LoraTrainingFacts {
  const metadata = readMetadata(path);
  const record = readRunRecord(path);
  const recordedBase = record?.base_model?.path;
  const baseModelPath = typeof recordedBase === 'string' && existsSync(recordedBase) ? recordedBase : null;
  const resolution = /^\((\d+),/.exec(metadata.ss_resolution ?? '')?.[1];
  return {
    baseModelPath,
    baseModelName: metadata.ss_sd_model_name ?? null,
    baseModelSha256: metadata.ss_new_sd_model_hash ?? record?.base_model?.sha256 ?? null,
    resolutionPx: resolution ? Number(resolution) : (record?.training?.resolution ?? null),
  };
}

interface RunRecord {
  config?: { output_name?: string };
  base_model?: { path?: string; sha256?: string | null };
  training?: { resolution?: number };
}

function readRunRecord(loraPath: string): RunRecord | null {
  const recordPath = join(dirname(loraPath), 'lora_scripts.json');
  if (!existsSync(recordPath)) return null;
  try {
    const record = JSON.parse(readFileSync(recordPath, 'utf8')) as RunRecord;
    const outputName = record.config?.output_name;
    const stem = basename(loraPath, LORA_EXTENSION);
    // One record per output folder: it describes `<output_name>.safetensors`, its step files and the diffusers file.
    const isThisRun = stem === outputName || stem.startsWith(`${outputName}-step`) || stem === 'pytorch_lora_weights';
    return isThisRun ? record : null;
  } catch {
    return null;
  }
}

/** sha256 of a base model file (WebUI's `Model hash` is its first 10 digits); null for a diffusers folder. */
export function baseModelSha256(path: string): Promise<string | null> {
  return statSync(path).isFile() ? sha256OfFile(path) : Promise.resolve(null);
}

// `resize` and `combine` on files: read LoRAs (kohya or PEFT), edit their ranks (rank-edit.ts), write one kohya
// file atomically with fresh `sshs_*` hashes and a record of what was done in its metadata.
import { basename, resolve } from 'node:path';
import type { BaseFamily } from './kohya-keys.js';
import { readLoraFactors, type LoraFactors } from './lora-factors.js';
import { FLUX_BASE_MODEL_VERSION, fluxFactors, fluxKohyaTensors, fluxLoraNaming } from './flux-lora-file.js';
import { LoraFileError } from './lora-file-error.js';
import { rankEditRefusal } from './lycoris-files.js';
import { isLycorisNetwork, networkTypeOf } from './lycoris-modules.js';
import {
  combineModules,
  editedModulesToTensors,
  resizeModules,
  type EditedModule,
  type RankReport,
  type RankTarget,
} from './rank-edit.js';
import type { FloatDtype } from './float-codec.js';
import { readSafetensors, writeBytesAtomic } from './safetensors-file.js';
import type { SafetensorsFile } from './safetensors.js';
import { serializeWithSshsHashes } from './sshs-hashes.js';

export interface RankFileResult {
  output: string;
  report: RankReport[];
}

export interface ResizeOptions extends RankTarget {
  input: string;
  output: string;
  /** Needed only for PEFT/diffusers inputs (their module names depend on it). */
  family?: BaseFamily;
}

export async function resizeLoraFile(options: ResizeOptions): Promise<RankFileResult> {
  checkOutput(options.output, [options.input]);
  const { file, modules, isFlux } = await readLora(options.input, options.family, 'resize');
  const { modules: edited, report } = resizeModules(modules, options);
  const record = {
    from: basename(options.input),
    ...(options.rank ? { rank: options.rank } : {}),
    ...(options.energy ? { energy: options.energy } : {}),
    min_energy: Math.min(...report.map((r) => r.energy)),
  };
  const metadata = {
    ...(isFlux ? { ss_base_model_version: FLUX_BASE_MODEL_VERSION } : {}),
    ...carriedMetadata(file.metadata),
    ...rankMetadata(edited),
    'lora_scripts.resized': JSON.stringify(record),
  };
  await write(options.output, edited, outputDtype([modules]), metadata);
  return { output: options.output, report };
}

export interface CombineOptions {
  inputs: ReadonlyArray<{ path: string; weight: number }>;
  output: string;
  /** Cut every combined module to at most this rank by SVD; without it the ranks add up and the sum is exact. */
  rank?: number;
  family?: BaseFamily;
}

export async function combineLoraFiles(options: CombineOptions): Promise<RankFileResult> {
  checkOutput(
    options.output,
    options.inputs.map((i) => i.path),
  );
  const loras = [];
  for (const { path, weight } of options.inputs)
    loras.push({ fileName: path, weight, ...(await readLora(path, options.family, 'combine')) });
  refuseFluxWithOthers(loras);
  const { modules: edited, report } = combineModules(
    loras,
    options.rank === undefined ? undefined : { rank: options.rank },
  );
  const record = options.inputs.map(({ path, weight }) => ({ file: basename(path), weight }));
  // The first input's training record describes none of the result; keep only facts all inputs share.
  const shared = sharedMetadata(
    loras.map((l) => l.file.metadata),
    ['ss_base_model_version', 'ss_v2', 'modelspec.architecture', 'ss_sd_model_name'],
  );
  const metadata = {
    ...shared,
    ...rankMetadata(edited),
    'lora_scripts.combined': JSON.stringify(record),
    ...(options.rank ? { 'lora_scripts.combined_rank': String(options.rank) } : {}),
  };
  await write(options.output, edited, outputDtype(loras.map((l) => l.modules)), metadata);
  return { output: options.output, report };
}

async function readLora(
  path: string,
  family: BaseFamily | undefined,
  command: 'combine' | 'resize',
): Promise<{ file: SafetensorsFile; modules: LoraFactors[]; isFlux: boolean }> {
  const file = await readSafetensors(path);
  const network = networkTypeOf(file.tensors.keys());
  if (isLycorisNetwork(network)) throw rankEditRefusal(path, network, command);
  // Flux modules are read under kohya (BFL) names whatever the file's naming, so the output is a kohya Flux LoRA.
  if (fluxLoraNaming(file.tensors.keys()))
    return { file, modules: fluxFactors(fluxKohyaTensors(file, path), path), isFlux: true };
  // Without --family the file's own names and widths decide (and a file that cannot tell is an error).
  const modules = readLoraFactors(file, { fileName: path, ...(family ? { family } : {}) }).modules;
  return { file, modules, isFlux: false };
}

/** Flux and SD modules share no layer: a sum of both would be two LoRAs in one file that no loader applies whole. */
function refuseFluxWithOthers(loras: ReadonlyArray<{ fileName: string; isFlux: boolean }>): void {
  const flux = loras.find((l) => l.isFlux);
  const other = loras.find((l) => !l.isFlux);
  if (flux && other) {
    throw new LoraFileError(`is a Flux.1 LoRA, but \`${other.fileName}\` is a Stable Diffusion one`, {
      code: 'lora_family_mismatch',
      culprit: flux.fileName,
      hint: 'combine LoRAs of one base model family',
    });
  }
}

function checkOutput(output: string, inputs: readonly string[]): void {
  if (inputs.some((input) => resolve(input) === resolve(output))) {
    throw new LoraFileError('is also an input; the output must be a new file (originals are never modified)', {
      code: 'output_is_input',
      culprit: output,
      hint: 'choose another `--out` path',
    });
  }
}

/** The inputs' dtype when they agree (F16 stays F16), else F32. */
function outputDtype(inputs: ReadonlyArray<readonly LoraFactors[]>): FloatDtype {
  const dtypes = new Set(inputs.flat().map((m) => m.dtype));
  return dtypes.size === 1 ? [...dtypes][0]! : 'F32';
}

/** What stays true of a resized LoRA: everything but the rank, alpha, hashes and PEFT's own config. */
function carriedMetadata(metadata: Readonly<Record<string, string>>): Record<string, string> {
  const stale = new Set([
    'sshs_model_hash',
    'sshs_legacy_hash',
    'lora_adapter_metadata',
    'ss_network_dim',
    'ss_network_alpha',
  ]);
  return Object.fromEntries(Object.entries(metadata).filter(([key]) => !stale.has(key)));
}

function sharedMetadata(
  all: ReadonlyArray<Readonly<Record<string, string>>>,
  keys: readonly string[],
): Record<string, string> {
  const shared: Record<string, string> = {};
  for (const key of keys) {
    const value = all[0]?.[key];
    if (value !== undefined && all.every((m) => m[key] === value)) shared[key] = value;
  }
  return shared;
}

/** sd-scripts' convention: one rank → `ss_network_dim` = that rank, mixed ranks → `Dynamic`; alpha = rank here. */
function rankMetadata(modules: readonly EditedModule[]): Record<string, string> {
  const ranks = new Set(modules.map((m) => m.down.rows));
  const dim = ranks.size === 1 ? String([...ranks][0]) : 'Dynamic';
  return { ss_network_dim: dim, ss_network_alpha: dim === 'Dynamic' ? dim : `${dim}.0` };
}

async function write(
  path: string,
  modules: readonly EditedModule[],
  dtype: FloatDtype,
  metadata: Record<string, string>,
): Promise<void> {
  const { bytes } = serializeWithSshsHashes({ metadata, tensors: editedModulesToTensors(modules, dtype) });
  await writeBytesAtomic(path, bytes);
}

// The file side of LoHa / LoKr / DoRA: the engine's peft file → the LyCORIS file (training's last step and
// `convert --to kohya`), and the clear refusals where a conversion is not defined. Reads whole files: LyCORIS
// files are small (a few MB to a few hundred MB), and every factor is needed anyway.
import { resolve } from 'node:path';
import type { ConvertLoraOptions, ConvertLoraSummary } from './convert-lora-file.js';
import type { LoraComponent } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { readLycorisModules, type LycorisModuleSet, type NetworkType } from './lycoris-modules.js';
import { lycorisToKohya } from './lycoris-to-kohya.js';
import { lycorisToPeft } from './lycoris-to-peft.js';
import { pythonJsonDumps } from './python-format.js';
import type { AlphaSource } from './peft-to-kohya.js';
import type { SafetensorsContent } from './safetensors.js';
import { readSafetensors, writeBytesAtomic } from './safetensors-file.js';
import { serializeWithSshsHashes } from './sshs-hashes.js';
import type { ConvertOptions, ConvertSummary } from './to-kohya.js';

export const NETWORK_NAMES: Readonly<Record<NetworkType, string>> = {
  lora: 'LoRA',
  loha: 'LoHa',
  lokr: 'LoKr',
  dora: 'DoRA',
};

// Who applies a LyCORIS file as it is. A1111 norms DoRA per input channel only, so it misreads our per-output
// `dora_scale` (docs/formats/lycoris.md §4).
const LOADERS: Readonly<Record<NetworkType, string>> = {
  lora: 'A1111, Forge and ComfyUI load it',
  loha: 'A1111, Forge and ComfyUI load it; `lora-scripts merge` bakes it into a checkpoint',
  lokr: 'A1111, Forge and ComfyUI load it; `lora-scripts merge` bakes it into a checkpoint',
  dora: 'ComfyUI loads it, A1111 misapplies its per-output magnitudes; `lora-scripts merge` bakes it into a checkpoint',
};

/** convertPeftFileToKohya for a LoHa, LoKr or DoRA the engine saved: the LyCORIS file, hashes stamped. */
export async function writeLycorisKohyaFile(
  file: SafetensorsContent,
  options: ConvertOptions,
): Promise<ConvertSummary> {
  const set = readLycorisModules(file, {
    fileName: options.input,
    family: options.family,
    layersPerBlock: options.layersPerBlock,
  });
  const content = lycorisToKohya(set, { alphaDtype: options.alphaDtype, culprit: options.output });
  const metadata = {
    ...options.metadata,
    ...content.metadata,
    ss_network_args: mergedNetworkArgs(options.metadata.ss_network_args, content.metadata.ss_network_args ?? '{}'),
  };
  const { bytes, modelHash, legacyHash } = serializeWithSshsHashes({ metadata, tensors: content.tensors });
  await writeBytesAtomic(options.output, bytes);
  return {
    modules: set.modules.length,
    tensors: content.tensors.size,
    sizeBytes: bytes.length,
    modelHash,
    legacyHash,
    alphaSources: alphaSources(set, file.metadata.lora_adapter_metadata),
  };
}

/**
 * The file's LyCORIS args (`algo`, `dora_wd`) first, then the training's own (`factor`, block settings) that the
 * tensors do not show: both are what LyCORIS' `network_args` would have held. Each is a JSON object of strings.
 */
function mergedNetworkArgs(training: string | undefined, file: string): string {
  if (training === undefined) return file;
  const args: Record<string, string> = {
    ...(JSON.parse(file) as Record<string, string>),
    ...(JSON.parse(training) as Record<string, string>),
  };
  return pythonJsonDumps(args);
}

// Keys that describe one file's layout (or one network module), not the training run: rewritten, never carried.
const LAYOUT_KEYS = [
  'format',
  'lora_adapter_metadata',
  'sshs_model_hash',
  'sshs_legacy_hash',
  'ss_network_module',
  'ss_network_args',
];

/**
 * `convert` for a LoHa, LoKr or DoRA file: peft keys → LyCORIS keys, and LyCORIS LoHa / per-output DoRA → peft keys
 * (lycoris-to-peft.ts refuses LoKr). Converting a file to the layout it already has is refused.
 */
export async function convertLycorisFile(
  options: ConvertLoraOptions,
  network: NetworkType,
  header: SafetensorsContent,
): Promise<ConvertLoraSummary> {
  const isKohya = [...header.tensors.keys()].every((key) => /^lora_(unet|te[12]?)_/.test(key));
  const name = NETWORK_NAMES[network];
  if (options.to === 'diffusers' && !isKohya) {
    throw new LoraFileError(`is already a diffusers/peft ${name} file`, {
      code: 'conversion_not_defined',
      culprit: options.input,
      hint: 'convert it `--to kohya` for A1111 and ComfyUI',
    });
  }
  if (options.to === 'kohya' && isKohya) {
    throw new LoraFileError(`is already a LyCORIS (kohya-key) ${name} file`, {
      code: 'conversion_not_defined',
      culprit: options.input,
      hint: `use the file as it is: ${LOADERS[network]}`,
    });
  }
  const file = await readSafetensors(options.input);
  const set = readLycorisModules(file, { fileName: options.input, family: options.family });
  const content =
    options.to === 'kohya'
      ? lycorisToKohya(set, { culprit: options.output })
      : lycorisToPeft(set, { family: set.family ?? options.family ?? 'sd1', fileName: options.input });
  const carried = Object.fromEntries(Object.entries(file.metadata).filter(([key]) => !LAYOUT_KEYS.includes(key)));
  const metadata = { ...carried, ...content.metadata };
  const { bytes, modelHash } = serializeWithSshsHashes({ metadata, tensors: content.tensors });
  await writeBytesAtomic(resolve(options.output), bytes);
  return {
    from: isKohya ? `lycoris ${name}` : `diffusers peft ${name}`,
    to: options.to,
    family: set.family!,
    familyBasis: set.familyBasis,
    modules: set.modules.length,
    tensors: content.tensors.size,
    sizeBytes: bytes.length,
    modelHash,
  };
}

/** The one-line refusal for combine and resize: their SVD works on up·down pairs, which LoHa and LoKr are not. */
export function rankEditRefusal(path: string, network: NetworkType, command: 'combine' | 'resize'): LoraFileError {
  const name = NETWORK_NAMES[network];
  const why =
    network === 'dora'
      ? 'its per-row magnitudes depend on the base weight, so it has no LoRA-only sum or truncation'
      : `its weight change is ${network === 'loha' ? 'a Hadamard product' : 'a Kronecker product'}, not a low-rank up·down pair`;
  return new LoraFileError(`is a ${name}: \`${command}\` cannot edit it (${why})`, {
    code: 'network_not_supported',
    culprit: path,
    hint:
      command === 'combine'
        ? 'merge it into a checkpoint with `lora-scripts merge` instead, or train a plain LoRA (`network_type: lora`) to combine'
        : 'train it again with a lower `lora_rank`, or merge it into a checkpoint with `lora-scripts merge`',
  });
}

function alphaSources(
  set: LycorisModuleSet,
  metadata: string | undefined,
): Partial<Record<LoraComponent, AlphaSource>> {
  const sources: Partial<Record<LoraComponent, AlphaSource>> = {};
  for (const { component } of set.modules) sources[component] = metadata ? 'lora_adapter_metadata' : 'rank';
  return sources;
}

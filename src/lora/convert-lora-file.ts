// `convert`: a LoRA file in one key format → the other (kohya ⇄ diffusers/PEFT), weights copied byte for byte,
// metadata carried over, hashes recomputed, written atomically; the input is never modified nor held in memory.
import { closeSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import type { AlphaDtype } from './alpha-tensor.js';
import type { BaseFamily } from './kohya-keys.js';
import { convertFluxLoraFile } from './flux-convert.js';
import { fluxLoraNaming } from './flux-lora-file.js';
import { KOHYA_ALPHA_DTYPE_KEY, peftContent } from './kohya-to-peft.js';
import { LoraFileError } from './lora-file-error.js';
import { convertLycorisFile } from './lycoris-files.js';
import { isLycorisNetwork, networkTypeOf } from './lycoris-modules.js';
import { LAYERS_PER_BLOCK_KEY, readLoraModules, type LoraModuleSet } from './lora-modules.js';
import { kohyaContent } from './modules-to-kohya.js';
import { readSafetensorsHeader } from './safetensors-file.js';
import { lazySafetensors, openSafetensors, writeSafetensorsStreamed } from './streamed-safetensors.js';

export type LoraKeyFormat = 'kohya' | 'diffusers';

export interface ConvertLoraOptions {
  input: string;
  output: string;
  to: LoraKeyFormat;
  /** Skips family detection. */
  family?: BaseFamily;
}

export interface ConvertLoraSummary {
  /** What the input was, e.g. `kohya LoCon`, `diffusers peft`. */
  from: string;
  to: LoraKeyFormat;
  family: BaseFamily | 'flux';
  familyBasis: string;
  modules: number;
  tensors: number;
  sizeBytes: number;
  /** `sshs_model_hash` of the output; A1111 shows its first 12 digits. */
  modelHash: string;
}

// Keys that describe one file's layout, not the training run: rewritten for the output, never carried.
const LAYOUT_KEYS = new Set([
  'format',
  'lora_adapter_metadata',
  'sshs_model_hash',
  'sshs_legacy_hash',
  KOHYA_ALPHA_DTYPE_KEY,
  LAYERS_PER_BLOCK_KEY,
]);

export async function convertLoraFile(options: ConvertLoraOptions): Promise<ConvertLoraSummary> {
  refuseSameFile(options.input, options.output);
  const fd = openSafetensors(options.input);
  try {
    // Header and alphas only: weights are copied from the input in chunks, so memory does not grow with the file.
    const source = lazySafetensors(fd, readSafetensorsHeader(fd, options.input), options.input);
    const { metadata } = source.content;
    const network = networkTypeOf(source.content.tensors.keys());
    const carried = Object.fromEntries(Object.entries(metadata).filter(([key]) => !LAYOUT_KEYS.has(key)));
    // Before the SD readers: a kohya Flux file's `lora_unet_` names would pass for an SD UNet's.
    if (fluxLoraNaming(source.content.tensors.keys())) return await convertFluxLoraFile(options, carried);
    if (isLycorisNetwork(network)) return await convertLycorisFile(options, network, source.content);
    const set = readLoraModules(source.content, { fileName: options.input, family: options.family });
    const content =
      options.to === 'diffusers'
        ? peftContent(set.modules, carried, set.layersPerBlock)
        : kohyaContent(set.modules, {
            metadata: carried,
            alphaDtype: recordedAlphaDtype(metadata),
            culprit: options.output,
          });
    const written = writeSafetensorsStreamed(options.output, content, source);
    return summary(set, options.to, { tensors: content.tensors.size, ...written });
  } finally {
    closeSync(fd);
  }
}

function summary(
  set: LoraModuleSet,
  to: LoraKeyFormat,
  written: { tensors: number; sizeBytes: number; modelHash: string },
): ConvertLoraSummary {
  const from = `${set.format.name} ${set.format.variant}`;
  return { from, to, family: set.family, familyBasis: set.familyBasis, modules: set.modules.length, ...written };
}

/** A diffusers file we wrote from a kohya one says which dtype its alphas had; anything else gets F32. */
function recordedAlphaDtype(metadata: Readonly<Record<string, string>>): AlphaDtype | undefined {
  const dtype = metadata[KOHYA_ALPHA_DTYPE_KEY];
  return dtype === 'F16' || dtype === 'BF16' || dtype === 'F32' ? dtype : undefined;
}

function refuseSameFile(input: string, output: string): void {
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path);
    }
  };
  if (real(input) === real(output)) {
    throw new LoraFileError('is both the input and the output', {
      code: 'output_is_input',
      culprit: output,
      hint: 'write the converted file under another name; the input is never modified',
    });
  }
}

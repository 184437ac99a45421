// Turns the engine's diffusers/PEFT LoRA file into the kohya/WebUI file: read, map (peft-to-kohya.ts), stamp the
// hashes, write atomically.
import { resolve } from 'node:path';
import type { AlphaDtype } from './alpha-tensor.js';
import type { BaseFamily, LoraComponent } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { writeLycorisKohyaFile } from './lycoris-files.js';
import { isLycorisNetwork, networkTypeOf } from './lycoris-modules.js';
import { peftToKohya, type AlphaSource } from './peft-to-kohya.js';
import { readSafetensors, writeBytesAtomic } from './safetensors-file.js';
import { serializeWithSshsHashes } from './sshs-hashes.js';

export interface ConvertOptions {
  /** The engine's `pytorch_lora_weights.safetensors`. */
  input: string;
  /** The kohya file to write; must differ from `input`, which is never modified. */
  output: string;
  family: BaseFamily;
  /** `ss_*`, `modelspec.*` and `lora_scripts.*` keys (see buildKohyaMetadata); the hashes are added here. */
  metadata: Readonly<Record<string, string>>;
  /**
   * Default F32, whatever the weights' dtype: every consumer reads alpha with `.item()`, F32 holds any alpha a user
   * sets (BF16 turns 257 into 256, F16 cannot hold 0.1), and it costs 4 bytes per module.
   */
  alphaDtype?: AlphaDtype;
  /** The UNet's layers per block (2 for every SD1/SD2/SDXL model). */
  layersPerBlock?: number;
}

export interface ConvertSummary {
  modules: number;
  tensors: number;
  sizeBytes: number;
  /** `sshs_model_hash`: sha256 of the data buffer; A1111 shows its first 12 digits. */
  modelHash: string;
  legacyHash: string;
  alphaSources: Partial<Record<LoraComponent, AlphaSource>>;
}

export async function convertPeftFileToKohya(options: ConvertOptions): Promise<ConvertSummary> {
  if (resolve(options.input) === resolve(options.output)) {
    throw new LoraFileError('is both the input and the output', {
      code: 'output_is_input',
      culprit: options.output,
      hint: 'write the kohya file under another name',
    });
  }
  const file = await readSafetensors(options.input);
  // LoHa, LoKr and DoRA are written in LyCORIS' layout (docs/formats/lycoris.md).
  if (isLycorisNetwork(networkTypeOf(file.tensors.keys()))) return writeLycorisKohyaFile(file, options);
  const { tensors, modules, alphaSources } = peftToKohya(file, {
    family: options.family,
    fileName: options.input,
    alphaDtype: options.alphaDtype,
    layersPerBlock: options.layersPerBlock,
  });
  const { bytes, modelHash, legacyHash } = serializeWithSshsHashes({ metadata: options.metadata, tensors });
  await writeBytesAtomic(options.output, bytes);
  return {
    modules: modules.length,
    tensors: tensors.size,
    sizeBytes: bytes.length,
    modelHash,
    legacyHash,
    alphaSources,
  };
}

// Turns the engine's diffusers Flux LoRA file into the kohya/ComfyUI Flux file: read, map (flux-keys.ts), stamp the
// hashes, write atomically. The Flux twin of to-kohya.ts, which convertPeftFileToKohya can hand Flux files to.
import { resolve } from 'node:path';
import type { AlphaDtype } from './alpha-tensor.js';
import { fluxPeftToKohya } from './flux-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { readSafetensors, writeBytesAtomic } from './safetensors-file.js';
import { serializeWithSshsHashes } from './sshs-hashes.js';
import type { ConvertSummary } from './to-kohya.js';

export interface ConvertFluxOptions {
  /** The engine's `pytorch_lora_weights.safetensors` of a Flux run. */
  input: string;
  /** The kohya file to write; must differ from `input`, which is never modified. */
  output: string;
  /** `ss_*`, `modelspec.*` and `lora_scripts.*` keys; the hashes are added here. */
  metadata: Readonly<Record<string, string>>;
  /** Default F32, as for SD (to-kohya.ts says why). */
  alphaDtype?: AlphaDtype;
}

export async function convertFluxPeftFileToKohya(options: ConvertFluxOptions): Promise<ConvertSummary> {
  if (resolve(options.input) === resolve(options.output)) {
    throw new LoraFileError('is both the input and the output', {
      code: 'output_is_input',
      culprit: options.output,
      hint: 'write the kohya file under another name',
    });
  }
  const file = await readSafetensors(options.input);
  const { tensors, modules, alphaSources } = fluxPeftToKohya(file, {
    fileName: options.input,
    alphaDtype: options.alphaDtype,
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

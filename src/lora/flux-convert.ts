// `convert` for Flux.1 LoRAs: any naming (flux-lora-file.ts) → kohya's (A1111 Forge, ComfyUI, sd-scripts) or
// diffusers' (FluxPipeline.load_lora_weights), through flux-keys.ts. Training metadata is carried, the layout keys
// are rewritten, `ss_base_model_version` says flux1, the hashes are fresh; written atomically, the input untouched.
import { fluxKohyaToPeft } from './flux-keys.js';
import {
  FLUX_BASE_MODEL_VERSION,
  FLUX_FAMILY_BASIS,
  fluxKohyaTensors,
  fluxLoraNaming,
  type FluxLoraNaming,
} from './flux-lora-file.js';
import type { ConvertLoraOptions, ConvertLoraSummary } from './convert-lora-file.js';
import { LoraFileError } from './lora-file-error.js';
import { NETWORK_NAMES } from './lycoris-files.js';
import { networkTypeOf } from './lycoris-modules.js';
import { readSafetensors, writeBytesAtomic } from './safetensors-file.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';
import { serializeWithSshsHashes } from './sshs-hashes.js';

/**
 * Converts a Flux LoRA (`naming` from fluxLoraNaming). `carried` is the input's metadata without its layout keys
 * (convert-lora-file.ts decides which those are).
 */
export async function convertFluxLoraFile(
  options: ConvertLoraOptions,
  carried: Readonly<Record<string, string>>,
): Promise<ConvertLoraSummary> {
  const file = await readSafetensors(options.input);
  const network = networkTypeOf(file.tensors.keys());
  if (network !== 'lora') {
    throw new LoraFileError(`is a Flux ${NETWORK_NAMES[network]}; convert rewrites plain Flux LoRAs only`, {
      code: 'conversion_not_defined',
      culprit: options.input,
      hint: 'load it as it is: ComfyUI and diffusers read LyCORIS Flux files in their own naming',
    });
  }
  const naming = fluxLoraNaming(file.tensors.keys()) as FluxLoraNaming;
  const converted = options.to === 'kohya' ? toKohya(file, options.input) : toDiffusers(file, naming, options.input);
  const metadata = {
    ...carried,
    ss_base_model_version: carried.ss_base_model_version ?? FLUX_BASE_MODEL_VERSION,
    ...converted.metadata,
  };
  const { bytes, modelHash } = serializeWithSshsHashes({ metadata, tensors: converted.tensors });
  await writeBytesAtomic(options.output, bytes);
  return {
    from: `${naming} ${naming === 'diffusers' ? 'peft' : 'LoRA'} (Flux.1)`,
    to: options.to,
    family: 'flux',
    familyBasis: FLUX_FAMILY_BASIS,
    modules: moduleCount(converted.tensors),
    tensors: converted.tensors.size,
    sizeBytes: bytes.length,
    modelHash,
  };
}

function toKohya(file: SafetensorsContent, fileName: string): SafetensorsContent {
  return { metadata: {}, tensors: fluxKohyaTensors(file, fileName) };
}

/** diffusers → diffusers keeps the file's tensors and its LoraConfig; the others go through kohya names. */
function toDiffusers(file: SafetensorsContent, naming: FluxLoraNaming, fileName: string): SafetensorsContent {
  if (naming === 'diffusers') {
    const config = file.metadata.lora_adapter_metadata;
    return {
      metadata: { format: 'pt', ...(config === undefined ? {} : { lora_adapter_metadata: config }) },
      tensors: file.tensors,
    };
  }
  return fluxKohyaToPeft({ metadata: {}, tensors: fluxKohyaTensors(file, fileName) }, { fileName });
}

function moduleCount(tensors: ReadonlyMap<string, Tensor>): number {
  const stems = [...tensors.keys()].map((key) => key.replace(/\.(lora_(down|up|A|B)\.weight|alpha)$/, ''));
  return new Set(stems).size;
}

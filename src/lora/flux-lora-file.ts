// A Flux.1 LoRA file in any of its namings → kohya's tensors and float32 factors, for convert, merge, combine and
// resize. Pure. kohya names are the hub: flux-keys.ts maps diffusers' to them (fusing q/k/v), ComfyUI's are kohya's
// with dots (`diffusion_model.double_blocks.0.img_attn.qkv.lora_A.weight`), and BFL checkpoints answer to them.
import { decodeFloats, isFloatDtype, type FloatDtype } from './float-codec.js';
import { fluxPeftToKohya } from './flux-keys.js';
import type { LoraFactors } from './lora-factors.js';
import { LoraFileError } from './lora-file-error.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

/** kohya/BFL (`lora_unet_double_blocks_0_…`), diffusers (`transformer.transformer_blocks.0.…`), ComfyUI (BFL dots). */
export type FluxLoraNaming = 'kohya' | 'diffusers' | 'comfyui';

const NAMING_PATTERNS: ReadonlyArray<readonly [FluxLoraNaming, RegExp]> = [
  ['kohya', /^lora_unet_(double|single)_blocks_\d+_/],
  ['diffusers', /^transformer\.(single_)?transformer_blocks\.\d+\./],
  ['comfyui', /^diffusion_model\.(double|single)_blocks\.\d+\./],
];

/** The naming of a Flux LoRA from its keys (one block key decides: SD files have none), or undefined. */
export function fluxLoraNaming(keys: Iterable<string>): FluxLoraNaming | undefined {
  for (const key of keys) for (const [naming, pattern] of NAMING_PATTERNS) if (pattern.test(key)) return naming;
  return undefined;
}

/** Why inspect and convert call a file Flux (fluxLoraNaming's evidence). */
export const FLUX_FAMILY_BASIS = 'transformer block names (`double_blocks` / `single_blocks`)';

/** `ss_base_model_version` kohya's sd-scripts writes for Flux.1 LoRAs; convert stamps it on files that lack one. */
export const FLUX_BASE_MODEL_VERSION = 'flux1';

const COMFY_SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ['.lora_A.weight', '.lora_down.weight'],
  ['.lora_B.weight', '.lora_up.weight'],
  ['.lora_down.weight', '.lora_down.weight'],
  ['.lora_up.weight', '.lora_up.weight'],
  ['.alpha', '.alpha'],
];

/** The file's tensors under kohya names (`lora_unet_<bfl module>.lora_down.weight` / `.lora_up.weight` / `.alpha`). */
export function fluxKohyaTensors(file: SafetensorsContent, fileName: string): Map<string, Tensor> {
  const naming = fluxLoraNaming(file.tensors.keys());
  if (naming === 'diffusers') return fluxPeftToKohya(file, { fileName }).tensors;
  if (naming === 'kohya') return new Map(file.tensors);
  const renamed = new Map<string, Tensor>();
  for (const [key, tensor] of file.tensors) {
    const suffix = COMFY_SUFFIXES.find(([from]) => key.startsWith('diffusion_model.') && key.endsWith(from));
    if (!suffix) {
      throw new LoraFileError(`key \`${key}\` is not a LoRA weight of a Flux transformer module`, {
        code: 'not_flux_lora_key',
        culprit: fileName,
        hint: 'expected `diffusion_model.<BFL module>.lora_A.weight` / `.lora_B.weight` / `.alpha`, as ComfyUI names them',
      });
    }
    const module = key.slice('diffusion_model.'.length, -suffix[0].length);
    renamed.set(`lora_unet_${module.replaceAll('.', '_')}${suffix[1]}`, tensor);
  }
  return renamed;
}

const KOHYA_PART = /^(.+?)\.(lora_down\.weight|lora_up\.weight|alpha)$/;

/**
 * kohya-named Flux tensors → one float32 up·down pair per module, alpha from its `.alpha` (rank when absent). Only
 * plain Linear LoRAs: a LoHa/LoKr/DoRA key or a text-encoder module is an error naming it.
 */
export function fluxFactors(tensors: ReadonlyMap<string, Tensor>, fileName: string): LoraFactors[] {
  const parts = new Map<string, Partial<Record<'down' | 'up' | 'alpha', Tensor>>>();
  for (const [key, tensor] of tensors) {
    const match = KOHYA_PART.exec(key);
    if (!match || !match[1]!.startsWith('lora_unet_')) throw notPlainFluxLora(key, fileName);
    const part = match[2] === 'alpha' ? 'alpha' : match[2] === 'lora_down.weight' ? 'down' : 'up';
    parts.set(match[1]!, { ...parts.get(match[1]!), [part]: tensor });
  }
  return [...parts].map(([name, { down, up, alpha }]) => factorsOf(name, down, up, alpha, fileName));
}

function factorsOf(name: string, down?: Tensor, up?: Tensor, alpha?: Tensor, fileName = ''): LoraFactors {
  if (!down || !up) {
    throw new LoraFileError(`module \`${name}\` lacks its ${down ? 'lora_up' : 'lora_down'} weight`, {
      code: 'incomplete_module',
      culprit: fileName,
    });
  }
  const rank = down.shape[0] ?? 0;
  if (down.shape.length !== 2 || up.shape.length !== 2 || up.shape[1] !== rank || rank === 0) {
    throw new LoraFileError(
      `module \`${name}\`: lora_down ${JSON.stringify(down.shape)} and lora_up ${JSON.stringify(up.shape)} are not a Linear LoRA pair`,
      { code: 'lora_shape_mismatch', culprit: fileName },
    );
  }
  return {
    name,
    lookupName: name,
    down: { rows: rank, cols: down.shape[1]!, data: floats(name, down, fileName) },
    up: { rows: up.shape[0]!, cols: rank, data: floats(name, up, fileName) },
    downShape: down.shape,
    upShape: up.shape,
    rank,
    alpha: alpha ? floats(name, alpha, fileName)[0]! : rank,
    dtype: up.dtype as FloatDtype,
  };
}

function floats(name: string, tensor: Tensor, fileName: string): Float32Array {
  if (!isFloatDtype(tensor.dtype)) {
    throw new LoraFileError(`module \`${name}\` has a ${tensor.dtype} tensor; LoRA weights must be F32, F16 or BF16`, {
      code: 'unsupported_dtype',
      culprit: fileName,
    });
  }
  return decodeFloats(tensor.dtype, tensor.data);
}

function notPlainFluxLora(key: string, fileName: string): LoraFileError {
  const isTextEncoder = /^lora_te\d?_/.test(key);
  return new LoraFileError(
    isTextEncoder
      ? `key \`${key}\` belongs to a text encoder; Flux merge, combine and resize handle the transformer's modules only`
      : `key \`${key}\` is not a plain LoRA weight of a Flux transformer module (LoHa, LoKr and DoRA are not handled)`,
    {
      code: 'not_flux_lora_key',
      culprit: fileName,
      hint: isTextEncoder
        ? 'load this LoRA in ComfyUI or diffusers, which apply its text-encoder part too'
        : 'use a plain LoRA file',
    },
  );
}

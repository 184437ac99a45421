// A LoRA file's modules as float32 factors (down: r × in·kh·kw, up: out × r) for merge, combine and resize. Pure.
import type { BaseFamily } from './kohya-keys.js';
import { decodeFloats, type FloatDtype } from './float-codec.js';
import { LoraFileError } from './lora-file-error.js';
import { readLoraModules, type LoraModule } from './lora-modules.js';
import type { Matrix } from './low-rank.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

export interface LoraFactors {
  /** kohya module name to write: the file's own for kohya files, sd-scripts' for diffusers/PEFT ones. */
  name: string;
  /** The name checkpoint-targets.ts resolves: the file's own, or for diffusers UNet modules their diffusers path. */
  lookupName: string;
  down: Matrix;
  up: Matrix;
  /** `lora_down.weight`'s shape: [r, in] or [r, in, kh, kw]. */
  downShape: readonly number[];
  upShape: readonly number[];
  rank: number;
  /** scale = alpha / rank; alpha = rank when the file has none (docs/formats/kohya-lora.md §4). */
  alpha: number;
  dtype: FloatDtype;
}

export interface LoraFactorSet {
  family: BaseFamily;
  /** Why this family (detected from names, widths or metadata, or the fallback given). */
  familyBasis: string;
  /** False when the file could not tell (then `family` is the fallback) or cannot tell SD 1.x from 2.x. */
  isFamilyKnown: boolean;
  modules: LoraFactors[];
}

/**
 * Every module of a kohya or diffusers/PEFT LoRA file (read by lora-modules.ts), decoded to float32. The family is
 * detected from the file unless `family` is given; `fallbackFamily` names the modules when the file cannot tell.
 */
export function readLoraFactors(
  content: SafetensorsContent,
  options: { fileName: string; family?: BaseFamily; fallbackFamily?: BaseFamily },
): LoraFactorSet {
  const set = options.family
    ? { ...readLoraModules(content, { fileName: options.fileName, family: options.family }), isKnown: true }
    : readWithFallback(content, options.fileName, options.fallbackFamily);
  const isKohya = set.format.name !== 'diffusers';
  const modules = set.modules.map((module) => factorsOf(module, isKohya, options.fileName));
  return { family: set.family, familyBasis: set.familyBasis, isFamilyKnown: set.isKnown, modules };
}

function readWithFallback(content: SafetensorsContent, fileName: string, fallback: BaseFamily | undefined) {
  try {
    const set = readLoraModules(content, { fileName });
    return { ...set, isKnown: !set.familyBasis.includes('named alike') };
  } catch (error) {
    if (!(error instanceof LoraFileError) || error.code !== 'family_unknown' || fallback === undefined) throw error;
    return {
      ...readLoraModules(content, { fileName, family: fallback }),
      familyBasis: `assumed ${fallback}`,
      isKnown: false,
    };
  }
}

function factorsOf(module: LoraModule, isKohya: boolean, fileName: string): LoraFactors {
  const { down, up, rank } = module;
  const name = isKohya ? module.sourceName : module.kohyaName;
  // A diffusers UNet path resolves against any checkpoint's own layout; kohyaName assumes SDXL's real one.
  const lookupName = isKohya || module.component !== 'unet' ? name : `lora_unet_${module.path.replaceAll('.', '_')}`;
  const inSize = down.shape.slice(1).reduce((n, d) => n * d, 1);
  return {
    name,
    lookupName,
    down: { rows: rank, cols: inSize, data: floats(down, fileName) },
    up: { rows: up.shape[0] ?? 0, cols: rank, data: floats(up, fileName) },
    downShape: down.shape,
    upShape: up.shape,
    rank,
    alpha: module.alpha,
    dtype: up.dtype as FloatDtype, // lora-modules.ts accepts F32, F16 and BF16 only
  };
}

function floats(tensor: Tensor, fileName: string): Float32Array {
  if (tensor.dtype !== 'F32' && tensor.dtype !== 'F16' && tensor.dtype !== 'BF16') {
    throw new LoraFileError(`a LoRA weight is ${tensor.dtype}, not F32, F16 or BF16`, {
      code: 'unsupported_dtype',
      culprit: fileName,
    });
  }
  return decodeFloats(tensor.dtype, tensor.data);
}

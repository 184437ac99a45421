// A LoRA file's modules as float32 factors: kohya files as they are, PEFT/diffusers files through peft-to-kohya.ts,
// so every module has its kohya name, down (r × in·kh·kw), up (out × r) and alpha. Pure.
import type { BaseFamily } from './kohya-keys.js';
import { decodeFloats, isFloatDtype, type FloatDtype } from './float-codec.js';
import { LoraFileError } from './lora-file-error.js';
import type { Matrix } from './low-rank.js';
import { peftToKohya } from './peft-to-kohya.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

export interface LoraFactors {
  /** kohya module name, e.g. `lora_unet_down_blocks_0_attentions_0_proj_in`. */
  name: string;
  down: Matrix;
  up: Matrix;
  /** `lora_down.weight`'s shape: [r, in] or [r, in, kh, kw]. */
  downShape: readonly number[];
  upShape: readonly number[];
  rank: number;
  /** scale = alpha / rank; alpha = rank when the file has none (kohya-lora-format.md §4). */
  alpha: number;
  dtype: FloatDtype;
}

export interface ReadFactorsOptions {
  fileName: string;
  /** Only PEFT files need it (their names become kohya names for this family). */
  family: BaseFamily;
  layersPerBlock?: number;
}

const KOHYA_PARTS = ['.lora_down.weight', '.lora_up.weight', '.alpha'] as const;

export function isKohyaLora(content: SafetensorsContent): boolean {
  return [...content.tensors.keys()].some((key) => /^lora_(unet|te\d?)_.+\.lora_down\.weight$/.test(key));
}

/** Every module of a kohya or PEFT/diffusers LoRA file, decoded to float32. */
export function readLoraFactors(content: SafetensorsContent, options: ReadFactorsOptions): LoraFactors[] {
  const kohya = isKohyaLora(content) ? content.tensors : peftToKohya(content, options).tensors;
  const groups = groupKohyaTensors(kohya, options.fileName);
  if (groups.size === 0) throw new LoraFileError('holds no LoRA tensors', { code: 'no_lora_tensors', culprit: options.fileName, hint: 'pass a LoRA .safetensors file (kohya or diffusers/PEFT keys)' });
  return [...groups].map(([name, parts]) => factorsOf(name, parts, options.fileName));
}

type Parts = Partial<Record<(typeof KOHYA_PARTS)[number], Tensor>>;

function groupKohyaTensors(tensors: ReadonlyMap<string, Tensor>, fileName: string): Map<string, Parts> {
  const groups = new Map<string, Parts>();
  for (const [key, tensor] of tensors) {
    const part = KOHYA_PARTS.find((ending) => key.endsWith(ending));
    if (!part) {
      // LoHa/LoKr (`hada_w1_a`, `lokr_w1`), DoRA (`dora_scale`) and LoCon's `lora_mid` are other algebra.
      throw new LoraFileError(`tensor \`${key}\` is not part of a plain LoRA (lora_down, lora_up, alpha)`, { code: 'unsupported_network', culprit: fileName, hint: 'only plain LoRA files can be merged, combined or resized (not LoHa, LoKr, DoRA or CP-decomposed LoCon)' });
    }
    const name = key.slice(0, key.length - part.length);
    const group = groups.get(name) ?? {};
    group[part] = tensor;
    groups.set(name, group);
  }
  return groups;
}

function factorsOf(name: string, parts: Parts, fileName: string): LoraFactors {
  const down = parts['.lora_down.weight'];
  const up = parts['.lora_up.weight'];
  if (!down || !up) {
    throw new LoraFileError(`module \`${name}\` has no ${down ? 'lora_up' : 'lora_down'} weight`, { code: 'incomplete_module', culprit: fileName, hint: 'the file is damaged or was cut short; export it again' });
  }
  const [rank = 0, ...inShape] = down.shape;
  const [out = 0, upRank, ...upKernel] = up.shape;
  const isPair = rank > 0 && upRank === rank && (down.shape.length === 2 ? up.shape.length === 2 : down.shape.length === 4 && upKernel.every((d) => d === 1));
  if (!isPair) {
    throw new LoraFileError(`module \`${name}\`: lora_down ${JSON.stringify(down.shape)} and lora_up ${JSON.stringify(up.shape)} are not a LoRA pair`, { code: 'lora_shape_mismatch', culprit: fileName, hint: 'the file is damaged or not a plain LoRA' });
  }
  const inSize = inShape.reduce((n, d) => n * d, 1);
  return {
    name,
    down: { rows: rank, cols: inSize, data: floats(down, `${name}.lora_down.weight`, fileName) },
    up: { rows: out, cols: rank, data: floats(up, `${name}.lora_up.weight`, fileName) },
    downShape: down.shape,
    upShape: up.shape,
    rank,
    alpha: parts['.alpha'] ? scalar(parts['.alpha'], `${name}.alpha`, fileName) : rank,
    dtype: up.dtype as FloatDtype,
  };
}

function floats(tensor: Tensor, key: string, fileName: string): Float32Array {
  if (!isFloatDtype(tensor.dtype)) {
    throw new LoraFileError(`\`${key}\` is ${tensor.dtype}; LoRA weights must be F32, F16 or BF16`, { code: 'unsupported_dtype', culprit: fileName });
  }
  return decodeFloats(tensor.dtype, tensor.data);
}

/** A 0-dim (or one-element) alpha of any float or integer dtype; diffusers even writes I64 (format.md §5). */
function scalar(tensor: Tensor, key: string, fileName: string): number {
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  const readers: Partial<Record<string, () => number>> = {
    F64: () => view.getFloat64(0, true),
    I64: () => Number(view.getBigInt64(0, true)),
    I32: () => view.getInt32(0, true),
  };
  const read = isFloatDtype(tensor.dtype) ? () => decodeFloats(tensor.dtype as FloatDtype, tensor.data)[0]! : readers[tensor.dtype];
  const size = tensor.shape.reduce((n, d) => n * d, 1);
  if (!read || size !== 1) {
    throw new LoraFileError(`\`${key}\` is ${tensor.dtype} ${JSON.stringify(tensor.shape)}, not one number`, { code: 'invalid_alpha', culprit: fileName, hint: 'alpha must be a scalar tensor' });
  }
  return read();
}

/** A PEFT/diffusers file with a second text encoder is for SDXL (its names are needed before they can be read). */
export function guessPeftFamily(content: SafetensorsContent): BaseFamily | undefined {
  return [...content.tensors.keys()].some((key) => key.startsWith('text_encoder_2.')) ? 'sdxl' : undefined;
}

/**
 * Which base family a LoRA was made for, when its names or widths say so (undefined when they do not): sd-scripts'
 * SDXL names, a second text encoder, or the cross-attention width (768 SD 1.x, 1024 SD 2.x, 2048 SDXL).
 */
export function guessLoraFamily(modules: readonly LoraFactors[]): BaseFamily | undefined {
  if (modules.some(({ name }) => /^lora_(te2_|unet_(input_blocks|middle_block|output_blocks)_)/.test(name))) return 'sdxl';
  const crossAttention = modules.find(({ name }) => /_attn2_to_k$/.test(name));
  const widths: Record<number, BaseFamily> = { 768: 'sd1', 1024: 'sd2', 2048: 'sdxl' };
  const textWidth = modules.find(({ name }) => /^lora_te_.*_q_proj$/.test(name))?.down.cols;
  return (crossAttention && widths[crossAttention.down.cols]) ?? (textWidth === 768 ? 'sd1' : textWidth === 1024 ? 'sd2' : undefined);
}

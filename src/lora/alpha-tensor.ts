// The 0-dim `.alpha` tensor of a kohya module, in F32 or, when asked, the weights' own 16-bit dtype. Pure.
import { LoraFileError } from './lora-file-error.js';
import type { Tensor } from './safetensors.js';

export type AlphaDtype = 'F32' | 'F16' | 'BF16';

/**
 * F32 stores as torch.tensor(alpha) would (nearest float32). F16 and BF16 must hold the value exactly: an alpha that
 * rounds would silently change the LoRA's strength, so it is refused instead.
 */
export function alphaTensor(alpha: number, dtype: AlphaDtype, culprit: string): Tensor {
  const data = new Uint8Array(dtype === 'F32' ? 4 : 2);
  const view = new DataView(data.buffer);
  if (dtype === 'F32') {
    view.setFloat32(0, alpha, true);
    return { dtype, shape: [], data };
  }
  const bits = dtype === 'F16' ? exactF16Bits(alpha) : exactBf16Bits(alpha);
  if (bits === undefined) {
    throw new LoraFileError(`alpha ${alpha} cannot be stored exactly as ${dtype}`, {
      code: 'alpha_not_representable',
      culprit,
      hint: 'write alpha as F32 (the default)',
    });
  }
  view.setUint16(0, bits, true);
  return { dtype, shape: [], data };
}

/** IEEE half-precision bits of x, if x is exactly representable (normal or subnormal). */
export function exactF16Bits(x: number): number | undefined {
  if (!Number.isFinite(x)) return undefined;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  let exponent = Math.floor(Math.log2(a));
  // log2 can land one off next to a power of two; fix it so that 1 ≤ a / 2^exponent < 2.
  if (a / 2 ** exponent >= 2) exponent++;
  if (a / 2 ** exponent < 1) exponent--;
  if (exponent > 15) return undefined;
  if (exponent < -14) {
    const subnormal = a / 2 ** -24; // units of the smallest subnormal
    return Number.isInteger(subnormal) && subnormal < 1024 ? sign | subnormal : undefined;
  }
  const mantissa = (a / 2 ** exponent - 1) * 1024;
  return Number.isInteger(mantissa) ? sign | ((exponent + 15) << 10) | mantissa : undefined;
}

/** bfloat16 bits of x (the top half of its float32), if x is exactly representable. */
export function exactBf16Bits(x: number): number | undefined {
  if (!Number.isFinite(x) || Math.fround(x) !== x) return undefined;
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, x);
  const bits = view.getUint32(0);
  return (bits & 0xffff) === 0 ? bits >>> 16 : undefined;
}

/**
 * The number a 0-dim (or one-element) alpha tensor holds, as `alpha.item()` reads it: F32, F16, BF16, F64, or an
 * integer dtype (diffusers' convert_state_dict_to_kohya writes alpha as I64). Undefined for any other tensor.
 */
export function alphaValue(tensor: Tensor): number | undefined {
  if (tensor.shape.reduce((n, d) => n * d, 1) !== 1) return undefined;
  const view = new DataView(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
  switch (tensor.dtype) {
    case 'F32':
      return view.getFloat32(0, true);
    case 'F64':
      return view.getFloat64(0, true);
    case 'F16':
      return f16Value(view.getUint16(0, true));
    case 'BF16':
      return bf16Value(view.getUint16(0, true));
    case 'I64':
      return Number(view.getBigInt64(0, true));
    case 'I32':
      return view.getInt32(0, true);
    case 'I16':
      return view.getInt16(0, true);
    default:
      return undefined;
  }
}

function f16Value(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa === 0 ? sign * Infinity : NaN;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

function bf16Value(bits: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits << 16);
  return view.getFloat32(0);
}

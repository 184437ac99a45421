// F16 / BF16 / F32 tensor bytes ⇄ Float32Array, with round-to-nearest-even on the way down (as torch's `.to()`).
// Pure. Assumes a little-endian host, like safetensors itself (every platform Node supports is one).

export type FloatDtype = 'F32' | 'F16' | 'BF16';

export function isFloatDtype(dtype: string): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

const F16_TO_F32 = buildF16Table();

function buildF16Table(): Float32Array {
  const table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[bits] = mantissa === 0 ? sign * Infinity : NaN;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** Little-endian tensor bytes → a new Float32Array (the bytes may sit at any offset). */
export function decodeFloats(dtype: FloatDtype, bytes: Uint8Array): Float32Array {
  // Typed-array views need aligned offsets; a view into a pooled Buffer may not have one.
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice();
  if (dtype === 'F32')
    return new Float32Array(aligned.buffer.slice(aligned.byteOffset, aligned.byteOffset + aligned.length));
  const halves = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
  const out = new Float32Array(halves.length);
  if (dtype === 'F16') {
    for (let i = 0; i < halves.length; i++) out[i] = F16_TO_F32[halves[i]!]!;
  } else {
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) outBits[i] = halves[i]! << 16;
  }
  return out;
}

/** Float32Array → little-endian bytes of `dtype`, rounding to nearest, ties to even. */
export function encodeFloats(dtype: FloatDtype, values: Float32Array): Uint8Array {
  if (dtype === 'F32')
    return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  const encode = dtype === 'F16' ? f32BitsToF16 : f32BitsToBf16;
  for (let i = 0; i < bits.length; i++) out[i] = encode(bits[i]!);
  return new Uint8Array(out.buffer);
}

/** IEEE binary32 bits → binary16 bits, round to nearest even; overflow gives ±inf, NaN stays a (quiet) NaN. */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const abs = x & 0x7fffffff;
  if (abs >= 0x7f800000) return sign | (abs === 0x7f800000 ? 0x7c00 : 0x7e00);
  if (abs >= 0x47800000) return sign | 0x7c00; // ≥ 65536: beyond the largest half even after rounding
  if (abs < 0x38800000) {
    // Below 2^-14: a subnormal half. Count units of 2^-24, exactly, in float64, and round half to even.
    const units = f32FromBits(abs) * 2 ** 24;
    let n = Math.floor(units);
    const rest = units - n;
    if (rest > 0.5 || (rest === 0.5 && (n & 1) === 1)) n++;
    return sign | n; // n = 1024 is the smallest normal's encoding, as it should be
  }
  const mantissa = abs & 0x7fffff;
  let half = (((abs >>> 23) - 112) << 10) | (mantissa >>> 13); // 112 = 127 − 15
  const dropped = mantissa & 0x1fff;
  if (dropped > 0x1000 || (dropped === 0x1000 && (half & 1) === 1)) half++; // a carry into the exponent is right
  return sign | half;
}

/** IEEE binary32 bits → bfloat16 bits (the top half), round to nearest even; NaN stays NaN. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) & 0xffff) | 0x0040;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

const scratch = new DataView(new ArrayBuffer(4));

function f32FromBits(bits: number): number {
  scratch.setUint32(0, bits);
  return scratch.getFloat32(0);
}

// The weight change a LoHa, LoKr or DoRA module makes, in float32, and how it is added to a base weight
// (docs/formats/lycoris.md §3). Pure.
import { decodeFloats, type FloatDtype } from './float-codec.js';
import { LoraFileError } from './lora-file-error.js';
import type { Matrix } from './low-rank.js';
import type { LycorisModule } from './lycoris-modules.js';
import type { Tensor } from './safetensors.js';

/** DoRA's magnitudes and the axis they norm: one per output row (peft, LyCORIS' default) or per input channel. */
export interface Magnitude {
  values: Float32Array;
  axis: 'out' | 'in';
}

/** ΔW as an out × (in·kh·kw) row-major matrix, already multiplied by the module's scale. */
export function moduleDelta(module: LycorisModule, fileName: string): Matrix {
  const f = (part: string) => matrixOf(module.factors.get(part), fileName);
  let delta: Matrix;
  if (module.kind === 'loha') {
    delta = hadamard(product(f('hada_w1_a'), f('hada_w1_b')), product(f('hada_w2_a'), f('hada_w2_b')));
  } else if (module.kind === 'lokr') {
    const w1 = module.factors.has('lokr_w1') ? f('lokr_w1') : product(f('lokr_w1_a'), f('lokr_w1_b'));
    const w2 = module.factors.has('lokr_w2') ? f('lokr_w2') : product(f('lokr_w2_a'), f('lokr_w2_b'));
    delta = kron(w1, w2);
  } else {
    delta = product(f('lora_up.weight'), f('lora_down.weight'));
  }
  for (let i = 0; i < delta.data.length; i++) delta.data[i] = (delta.data[i] ?? 0) * module.scale;
  return delta;
}

/** The module's DoRA magnitude, checked against its ΔW's shape; undefined for a module without one. */
export function doraMagnitude(module: LycorisModule, delta: Matrix, fileName: string): Magnitude | undefined {
  const scale = module.doraScale;
  if (!scale) return undefined;
  const values = decodeFloats(floatDtype(scale, fileName), scale.data);
  const [first = 0] = scale.shape;
  if (values.length === delta.rows && first === delta.rows) return { values, axis: 'out' };
  if (values.length > 0 && first === 1 && delta.cols % values.length === 0) return { values, axis: 'in' };
  throw new LoraFileError(
    `\`${module.sourceName}.dora_scale\` is ${JSON.stringify(scale.shape)}, which fits neither the ${delta.rows} rows nor the inputs of its change`,
    { code: 'lora_shape_mismatch', culprit: fileName },
  );
}

/**
 * weights (rows × cols, row-major) += strength · change, from row `rowOffset`. With a magnitude (DoRA) the change is
 * m · V / ‖V‖ − W where V = W + ΔW and the norm runs along the magnitude's axis, as peft and LyCORIS merge it.
 */
export function addDelta(
  weights: Float32Array,
  cols: number,
  delta: Matrix,
  strength: number,
  rowOffset: number,
  magnitude?: Magnitude,
): void {
  const base = rowOffset * cols;
  if (!magnitude) {
    for (let i = 0; i < delta.data.length; i++)
      weights[base + i] = (weights[base + i] ?? 0) + strength * (delta.data[i] ?? 0);
    return;
  }
  const merged = new Float64Array(delta.data.length);
  for (let i = 0; i < merged.length; i++) merged[i] = (weights[base + i] ?? 0) + (delta.data[i] ?? 0);
  const factor =
    magnitude.axis === 'out' ? rowFactors(merged, delta, magnitude) : channelFactors(merged, delta, magnitude);
  for (let r = 0; r < delta.rows; r++) {
    for (let c = 0; c < delta.cols; c++) {
      const i = r * delta.cols + c;
      const scaled = (merged[i] ?? 0) * factor(r, c);
      weights[base + i] = (weights[base + i] ?? 0) + strength * (scaled - (weights[base + i] ?? 0));
    }
  }
}

function rowFactors(merged: Float64Array, delta: Matrix, magnitude: Magnitude): (r: number, c: number) => number {
  const factors = new Float64Array(delta.rows);
  for (let r = 0; r < delta.rows; r++) {
    let sum = 0;
    for (let c = 0; c < delta.cols; c++) sum += (merged[r * delta.cols + c] ?? 0) ** 2;
    factors[r] = (magnitude.values[r] ?? 0) / Math.max(Math.sqrt(sum), Number.MIN_VALUE);
  }
  return (r) => factors[r] ?? 0;
}

/** Per input channel: the norm over every output row and kernel position of that channel. */
function channelFactors(merged: Float64Array, delta: Matrix, magnitude: Magnitude): (r: number, c: number) => number {
  const channels = magnitude.values.length;
  const kernel = delta.cols / channels;
  const sums = new Float64Array(channels);
  for (let r = 0; r < delta.rows; r++)
    for (let c = 0; c < delta.cols; c++) {
      const channel = Math.floor(c / kernel);
      sums[channel] = (sums[channel] ?? 0) + (merged[r * delta.cols + c] ?? 0) ** 2;
    }
  const factors = sums.map((sum, ch) => (magnitude.values[ch] ?? 0) / Math.max(Math.sqrt(sum), Number.MIN_VALUE));
  return (_r, c) => factors[Math.floor(c / kernel)] ?? 0;
}

/** A factor as a matrix: first dimension rows, the rest flattened (a 4-D LoKr w2 becomes b × d·kh·kw). */
function matrixOf(tensor: Tensor | undefined, fileName: string): Matrix {
  if (!tensor)
    throw new LoraFileError('a LyCORIS module lost a factor', { code: 'incomplete_module', culprit: fileName });
  const [rows = 0, ...rest] = tensor.shape;
  return { rows, cols: rest.reduce((n, d) => n * d, 1), data: decodeFloats(floatDtype(tensor, fileName), tensor.data) };
}

function floatDtype(tensor: Tensor, fileName: string): FloatDtype {
  if (tensor.dtype === 'F32' || tensor.dtype === 'F16' || tensor.dtype === 'BF16') return tensor.dtype;
  throw new LoraFileError(`a weight is ${tensor.dtype}, not F32, F16 or BF16`, {
    code: 'unsupported_dtype',
    culprit: fileName,
  });
}

function product(a: Matrix, b: Matrix): Matrix {
  if (a.cols !== b.rows) throw new Error(`factor shapes ${a.rows}×${a.cols} and ${b.rows}×${b.cols} do not chain`);
  const out = new Float32Array(a.rows * b.cols);
  for (let i = 0; i < a.rows; i++)
    for (let k = 0; k < a.cols; k++) {
      const v = a.data[i * a.cols + k] ?? 0;
      if (v === 0) continue;
      for (let j = 0; j < b.cols; j++)
        out[i * b.cols + j] = (out[i * b.cols + j] ?? 0) + v * (b.data[k * b.cols + j] ?? 0);
    }
  return { rows: a.rows, cols: b.cols, data: out };
}

function hadamard(a: Matrix, b: Matrix): Matrix {
  if (a.rows !== b.rows || a.cols !== b.cols) throw new Error('LoHa halves differ in shape');
  return { rows: a.rows, cols: a.cols, data: a.data.map((v, i) => v * (b.data[i] ?? 0)) };
}

/** kron(w1, w2): row i·b + j, column p·d + q holds w1[i, p] · w2[j, q] (a 4-D w2 flattened keeps this order). */
function kron(w1: Matrix, w2: Matrix): Matrix {
  const rows = w1.rows * w2.rows;
  const cols = w1.cols * w2.cols;
  const out = new Float32Array(rows * cols);
  for (let i = 0; i < w1.rows; i++)
    for (let p = 0; p < w1.cols; p++) {
      const v = w1.data[i * w1.cols + p] ?? 0;
      for (let j = 0; j < w2.rows; j++)
        for (let q = 0; q < w2.cols; q++)
          out[(i * w2.rows + j) * cols + p * w2.cols + q] = v * (w2.data[j * w2.cols + q] ?? 0);
    }
  return { rows, cols, data: out };
}

// resize and combine on real files: same-rank resize is lossless, a lower rank keeps exactly the energy it reports,
// combine is the exact weighted sum (or its best rank-R cut), and the outputs are valid kohya files.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeFloats, encodeFloats, type FloatDtype } from './float-codec.js';
import { combineLoraFiles, resizeLoraFile } from './rank-files.js';
import { parseSafetensors, serializeSafetensors, type Tensor } from './safetensors.js';
import { addnetHash } from './sshs-hashes.js';
import { seededUniform } from '../testing/seeded-random.js';

function randomFloats(count: number, seed: number): Float32Array {
  const next = seededUniform(seed);
  return Float32Array.from({ length: count }, () => next() - 0.5);
}
const tensor = (shape: number[], seed: number, dtype: FloatDtype = 'F32'): Tensor => ({
  dtype,
  shape,
  data: encodeFloats(
    dtype,
    randomFloats(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  ),
});
const scalar = (value: number): Tensor => ({
  dtype: 'F32',
  shape: [],
  data: new Uint8Array(Float32Array.of(value).buffer),
});

const LINEAR = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k';
const CONV = 'lora_unet_down_blocks_0_resnets_0_conv1';

function loraFile(dir: string, name: string, rank: number, seed: number, alpha: number): string {
  const tensors = new Map<string, Tensor>([
    [`${LINEAR}.lora_down.weight`, tensor([rank, 24], seed)],
    [`${LINEAR}.lora_up.weight`, tensor([20, rank], seed + 1)],
    [`${LINEAR}.alpha`, scalar(alpha)],
    [`${CONV}.lora_down.weight`, tensor([rank, 4, 3, 3], seed + 2)],
    [`${CONV}.lora_up.weight`, tensor([6, rank, 1, 1], seed + 3)],
    [`${CONV}.alpha`, scalar(alpha)],
  ]);
  const path = join(dir, name);
  writeFileSync(
    path,
    serializeSafetensors({ metadata: { ss_network_dim: String(rank), ss_base_model_version: 'sd_v1' }, tensors }),
  );
  return path;
}

/** ΔW = (alpha/rank)·up@down of one module of a file, in float64. */
function delta(path: string, module: string): Float64Array {
  const { tensors } = parseSafetensors(readFileSync(path), path);
  const down = tensors.get(`${module}.lora_down.weight`)!;
  const up = tensors.get(`${module}.lora_up.weight`)!;
  const [rank = 0] = down.shape;
  const alpha = decodeFloats('F32', tensors.get(`${module}.alpha`)!.data)[0]!;
  const d = decodeFloats(down.dtype as FloatDtype, down.data);
  const u = decodeFloats(up.dtype as FloatDtype, up.data);
  const rows = up.shape[0]!;
  const cols = d.length / rank;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++)
    for (let t = 0; t < rank; t++)
      for (let j = 0; j < cols; j++) out[i * cols + j]! += (alpha / rank) * u[i * rank + t]! * d[t * cols + j]!;
  return out;
}

const squaredNorm = (x: Float64Array) => x.reduce((s, v) => s + v * v, 0);
const relativeError = (got: Float64Array, want: Float64Array) =>
  Math.sqrt(squaredNorm(got.map((v, i) => v - want[i]!)) / squaredNorm(want));

describe('resizeLoraFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'resize-'));
  const input = loraFile(dir, 'r8.safetensors', 8, 1, 3);

  it('at the same rank changes nothing but the factorisation (fp32 tolerance)', async () => {
    const output = join(dir, 'same.safetensors');
    const { report } = await resizeLoraFile({ input, output, rank: 8 });
    expect(report.map((r) => [r.name, r.toRank])).toEqual([
      [LINEAR, 8],
      [CONV, 8],
    ]);
    for (const module of [LINEAR, CONV])
      expect(relativeError(delta(output, module), delta(input, module))).toBeLessThan(1e-6);
  });

  it('at a lower rank keeps exactly the energy it reports, with kohya shapes and alpha = rank', async () => {
    const output = join(dir, 'r3.safetensors');
    const { report } = await resizeLoraFile({ input, output, rank: 3 });
    const { tensors, metadata } = parseSafetensors(readFileSync(output), output);
    expect(tensors.get(`${CONV}.lora_down.weight`)!.shape).toEqual([3, 4, 3, 3]);
    expect(tensors.get(`${CONV}.lora_up.weight`)!.shape).toEqual([6, 3, 1, 1]);
    expect(decodeFloats('F32', tensors.get(`${LINEAR}.alpha`)!.data)[0]).toBe(3);
    for (const { name, energy } of report) {
      expect(energy).toBeLessThan(0.999);
      expect(squaredNorm(delta(output, name)) / squaredNorm(delta(input, name))).toBeCloseTo(energy, 5);
    }
    expect(metadata).toMatchObject({
      ss_network_dim: '3',
      ss_network_alpha: '3.0',
      ss_base_model_version: 'sd_v1',
      sshs_model_hash: addnetHash(readFileSync(output)),
    });
    expect(JSON.parse(metadata['lora_scripts.resized']!)).toMatchObject({ from: 'r8.safetensors', rank: 3 });
  });

  it('with --energy picks the smallest rank per layer that keeps it', async () => {
    const output = join(dir, 'e90.safetensors');
    const { report } = await resizeLoraFile({ input, output, energy: 0.9 });
    const lower = await resizeLoraFile({ input, output: join(dir, 'probe.safetensors'), rank: 8 });
    for (const r of report) {
      expect(r.energy).toBeGreaterThanOrEqual(0.9);
      // One rank less would not have kept 90 %.
      const smaller = await resizeLoraFile({ input, output: join(dir, 'probe.safetensors'), rank: r.toRank - 1 });
      expect(smaller.report.find((s) => s.name === r.name)!.energy).toBeLessThan(0.9);
    }
    expect(lower.report.every((r) => r.energy > 0.999999)).toBe(true);
  });
});

describe('combineLoraFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'combine-'));
  const a = loraFile(dir, 'a.safetensors', 4, 10, 2);
  const b = loraFile(dir, 'b.safetensors', 2, 20, 4);

  it('stacks ranks so the result is exactly wa·ΔA + wb·ΔB (weights and alpha/rank folded in)', async () => {
    const output = join(dir, 'ab.safetensors');
    await combineLoraFiles({
      inputs: [
        { path: a, weight: 0.6 },
        { path: b, weight: -0.3 },
      ],
      output,
    });
    const { tensors, metadata } = parseSafetensors(readFileSync(output), output);
    expect(tensors.get(`${LINEAR}.lora_down.weight`)!.shape).toEqual([6, 24]);
    expect(metadata).toMatchObject({ ss_network_dim: '6', ss_base_model_version: 'sd_v1' });
    for (const module of [LINEAR, CONV]) {
      const want = delta(a, module).map((v, i) => 0.6 * v - 0.3 * delta(b, module)[i]!);
      expect(relativeError(delta(output, module), want)).toBeLessThan(1e-6);
    }
  });

  it('with --rank keeps the best rank-R part of the sum', async () => {
    const output = join(dir, 'ab-r3.safetensors');
    const { report } = await combineLoraFiles({
      inputs: [
        { path: a, weight: 1 },
        { path: b, weight: 1 },
      ],
      output,
      rank: 3,
    });
    for (const { name, energy, fromRank, toRank } of report) {
      expect([fromRank, toRank]).toEqual([6, 3]);
      const want = delta(a, name).map((v, i) => v + delta(b, name)[i]!);
      expect(squaredNorm(delta(output, name)) / squaredNorm(want)).toBeCloseTo(energy, 5);
    }
  });
});

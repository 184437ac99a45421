// inspect, convert, merge, resize and combine on small hand-built Flux LoRA files and a BFL-layout transformer:
// Flux files are told apart before the SD detectors, converted both ways without loss, and merged as
// W + w·(α/r)·up@down into BFL's fused weights; SD files against Flux ones are one-line refusals.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { convertLoraFile } from './convert-lora-file.js';
import { decodeFloats, encodeFloats } from './float-codec.js';
import { fluxBlockCounts } from './flux-inspect.js';
import { fluxLoraNaming } from './flux-lora-file.js';
import { mergeLorasIntoFlux } from './flux-merge.js';
import { inspectLora } from './inspect.js';
import { formatInspectReport } from './inspect-text.js';
import { combineLoraFiles, resizeLoraFile } from './rank-files.js';
import { serializeSafetensors, type Tensor, type TensorInfo } from './safetensors.js';
import { readSafetensors } from './safetensors-file.js';

const WIDTH = 4; // attention width of the made-up transformer (Flux.1: 3072)
const MLP = 4 * WIDTH;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flux-file-tools-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function tensor(shape: number[], seed: number): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: count }, (_, i) => Math.sin(seed * 97 + i * 13) / 2);
  return { dtype: 'F32', shape, data: encodeFloats('F32', values) };
}

const values = (t: Tensor) => Array.from(decodeFloats('F32', t.data));

/** A diffusers Flux LoRA (rank 2, alpha 4: scale 2): img q/k/v + out of double block 0, q/k/v/mlp + out of single block 1. */
function diffusersLora(): Map<string, Tensor> {
  const modules: Array<[string, number, number]> = [
    ['transformer_blocks.0.attn.to_q', WIDTH, WIDTH],
    ['transformer_blocks.0.attn.to_k', WIDTH, WIDTH],
    ['transformer_blocks.0.attn.to_v', WIDTH, WIDTH],
    ['transformer_blocks.0.attn.to_out.0', WIDTH, WIDTH],
    ['single_transformer_blocks.1.attn.to_q', WIDTH, WIDTH],
    ['single_transformer_blocks.1.attn.to_k', WIDTH, WIDTH],
    ['single_transformer_blocks.1.attn.to_v', WIDTH, WIDTH],
    ['single_transformer_blocks.1.proj_mlp', WIDTH, MLP],
    ['single_transformer_blocks.1.proj_out', WIDTH + MLP, WIDTH],
  ];
  return new Map(
    modules.flatMap(([path, inFeatures, out], i) => [
      [`transformer.${path}.lora_A.weight`, tensor([2, inFeatures], i)] as const,
      [`transformer.${path}.lora_B.weight`, tensor([out, 2], i + 50)] as const,
    ]),
  );
}

const ADAPTER_METADATA = JSON.stringify({ 'transformer.r': 2, 'transformer.lora_alpha': 4 });

function write(name: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): string {
  const path = join(dir, name);
  writeFileSync(path, serializeSafetensors({ metadata, tensors }));
  return path;
}

function writeDiffusersLora(name = 'pytorch_lora_weights.safetensors'): string {
  return write(name, diffusersLora(), { lora_adapter_metadata: ADAPTER_METADATA, 'lora_scripts.run': 'r1' });
}

function inspectTensors(tensors: Map<string, Tensor>, metadata: Record<string, string> = {}) {
  const alphas = new Map<string, number>();
  for (const [key, t] of tensors) if (key.endsWith('.alpha')) alphas.set(key, values(t)[0]!);
  const infos = new Map<string, TensorInfo>(
    [...tensors].map(([key, { dtype, shape }]) => [key, { dtype, shape: [...shape], dataOffsets: [0, 0] }]),
  );
  return inspectLora({ fileName: 'f.safetensors', sizeBytes: 1, metadata, tensors: infos, alphas });
}

/** A BFL-layout transformer with two double and two single blocks' LoRA-able weights (fused qkv / linear1). */
function bflTransformer(): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>([['img_in.weight', tensor([WIDTH, 8], 900)]]);
  for (const i of [0, 1]) {
    tensors.set(`double_blocks.${i}.img_attn.norm.key_norm.scale`, tensor([2], 901 + i));
    tensors.set(`double_blocks.${i}.img_attn.qkv.weight`, tensor([3 * WIDTH, WIDTH], 910 + i));
    tensors.set(`double_blocks.${i}.img_attn.proj.weight`, tensor([WIDTH, WIDTH], 920 + i));
    tensors.set(`single_blocks.${i}.linear1.weight`, tensor([3 * WIDTH + MLP, WIDTH], 930 + i));
    tensors.set(`single_blocks.${i}.linear2.weight`, tensor([WIDTH, WIDTH + MLP], 940 + i));
  }
  return tensors;
}

describe('fluxLoraNaming', () => {
  it('tells the three Flux namings from SD files', () => {
    expect(fluxLoraNaming(['lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight'])).toBe('kohya');
    expect(fluxLoraNaming(['transformer.single_transformer_blocks.3.proj_mlp.lora_A.weight'])).toBe('diffusers');
    expect(fluxLoraNaming(['diffusion_model.single_blocks.2.linear1.lora_A.weight'])).toBe('comfyui');
    expect(fluxLoraNaming(['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight'])).toBeUndefined();
    expect(fluxLoraNaming(['unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight'])).toBe(
      undefined,
    );
  });
});

describe('inspect on Flux LoRAs', () => {
  it('reports a diffusers Flux file as family flux with ranks, alphas from its LoraConfig and block counts', () => {
    const report = inspectTensors(diffusersLora(), { lora_adapter_metadata: ADAPTER_METADATA });
    expect(report.format).toEqual({ name: 'diffusers', variant: 'peft (Flux.1)', isConvertible: true });
    expect(report.family.name).toBe('flux');
    expect(report.layers).toMatchObject({ total: 9, unet: 9, textEncoder: 0 });
    expect(report.ranks).toEqual([{ value: 2, count: 9 }]);
    expect(report.alphas).toEqual([{ value: 4, count: 9 }]);
    expect(report.modules.every((m) => m.alphaSource === 'lora_adapter_metadata')).toBe(true);
    expect(fluxBlockCounts(report.modules)).toEqual({
      double: { modules: 4, blocks: 1 },
      single: { modules: 5, blocks: 1 },
      other: 0,
    });
    const text = formatInspectReport(report);
    expect(text).toMatch(/family\s+Flux\.1 \(transformer block names/);
    expect(text).toMatch(/layers\s+9 \(double blocks 4 in 1, single blocks 5 in 1\)/);
  });

  it('reports a kohya Flux file (alpha tensors) as flux, not as an SD UNet', () => {
    const report = inspectTensors(
      new Map([
        ['lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight', tensor([6, WIDTH], 1)],
        ['lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight', tensor([3 * WIDTH, 6], 2)],
        ['lora_unet_double_blocks_0_img_attn_qkv.alpha', tensor([], 3)],
        ['lora_unet_final_layer_linear.lora_down.weight', tensor([6, WIDTH], 4)],
        ['lora_unet_final_layer_linear.lora_up.weight', tensor([WIDTH, 6], 5)],
      ]),
    );
    expect(report.format).toMatchObject({ name: 'kohya', variant: 'LoRA (Flux.1)' });
    expect(report.family.name).toBe('flux');
    expect(report.ranks).toEqual([{ value: 6, count: 2 }]);
    expect(report.modules.map((m) => m.alphaSource).sort()).toEqual(['rank', 'tensor']);
    expect(formatInspectReport(report)).toMatch(/layers\s+2 \(double blocks 1 in 1, single blocks 0 in 0, other 1\)/);
  });
});

describe('convert on Flux LoRAs', () => {
  it('diffusers → kohya fuses q/k/v, keeps metadata, stamps flux1; kohya → diffusers gives the same tensors back', async () => {
    const input = writeDiffusersLora();
    const kohya = join(dir, 'kohya.safetensors');
    const summary = await convertLoraFile({ input, output: kohya, to: 'kohya' });
    expect(summary).toMatchObject({ from: 'diffusers peft (Flux.1)', family: 'flux', modules: 4, tensors: 12 });
    const written = await readSafetensors(kohya);
    expect(written.tensors.get('lora_unet_double_blocks_0_img_attn_qkv.lora_up.weight')?.shape).toEqual([12, 6]);
    expect(written.tensors.get('lora_unet_single_blocks_1_linear1.lora_up.weight')?.shape).toEqual([28, 8]);
    expect(written.metadata).toMatchObject({ ss_base_model_version: 'flux1', 'lora_scripts.run': 'r1' });
    expect(written.metadata.lora_adapter_metadata).toBeUndefined();
    expect(written.metadata.sshs_model_hash).toBe(summary.modelHash);

    const back = join(dir, 'back.safetensors');
    await convertLoraFile({ input: kohya, output: back, to: 'diffusers' });
    const roundTrip = await readSafetensors(back);
    const original = diffusersLora();
    expect([...roundTrip.tensors.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, t] of original) expect(values(roundTrip.tensors.get(key)!)).toEqual(values(t));
    expect(JSON.parse(roundTrip.metadata.lora_adapter_metadata!)).toMatchObject({
      'transformer.r': 2,
      'transformer.lora_alpha': 4,
    });
    expect(roundTrip.metadata.ss_base_model_version).toBe('flux1');
  });

  it("reads ComfyUI's BFL names with dots as kohya's", async () => {
    const input = write(
      'comfy.safetensors',
      new Map([
        ['diffusion_model.double_blocks.0.img_attn.proj.lora_A.weight', tensor([2, WIDTH], 1)],
        ['diffusion_model.double_blocks.0.img_attn.proj.lora_B.weight', tensor([WIDTH, 2], 2)],
      ]),
    );
    const output = join(dir, 'kohya.safetensors');
    await convertLoraFile({ input, output, to: 'kohya' });
    const written = await readSafetensors(output);
    expect([...written.tensors.keys()].sort()).toEqual([
      'lora_unet_double_blocks_0_img_attn_proj.lora_down.weight',
      'lora_unet_double_blocks_0_img_attn_proj.lora_up.weight',
    ]);
  });

  it('refuses a LyCORIS Flux file in one line', async () => {
    const input = write(
      'loha.safetensors',
      new Map([
        ['lora_unet_double_blocks_0_img_attn_proj.hada_w1_a', tensor([WIDTH, 2], 1)],
        ['lora_unet_double_blocks_0_img_attn_proj.hada_w1_b', tensor([2, WIDTH], 2)],
      ]),
    );
    await expect(convertLoraFile({ input, output: join(dir, 'o.safetensors'), to: 'diffusers' })).rejects.toMatchObject(
      {
        code: 'conversion_not_defined',
        message: 'is a Flux LoHa; convert rewrites plain Flux LoRAs only',
      },
    );
  });
});

describe('merge into a BFL Flux transformer', () => {
  it('adds w·scale·up@down to the fused qkv and linear1 rows the parts own, and copies the rest', async () => {
    const base = write('flux1-tiny.safetensors', bflTransformer(), { flux_axes_dims_rope: '2,2,4' });
    const lora = writeDiffusersLora();
    const output = join(dir, 'merged.safetensors');
    const summary = await mergeLorasIntoFlux({ base, loras: [{ path: lora, weight: 0.5 }], output });
    expect(summary).toMatchObject({ family: 'Flux.1', modules: 4, changedTensors: 4, copiedTensors: 7 });
    const merged = await readSafetensors(output);
    expect(merged.metadata.flux_axes_dims_rope).toBe('2,2,4');
    const original = bflTransformer();
    // Rows WIDTH..2·WIDTH of the fused qkv are to_k's; rows 3·WIDTH.. of linear1 are proj_mlp's: + 0.5 · (4/2) · B@A.
    const expectDelta = (key: string, firstRow: number, modulePath: string) => {
      const peft = diffusersLora();
      const a = values(peft.get(`transformer.${modulePath}.lora_A.weight`)!);
      const b = values(peft.get(`transformer.${modulePath}.lora_B.weight`)!);
      const before = values(original.get(key)!);
      const after = values(merged.tensors.get(key)!);
      for (let row = 0; row < b.length / 2; row++) {
        for (let col = 0; col < WIDTH; col++) {
          const delta = b[row * 2]! * a[col]! + b[row * 2 + 1]! * a[WIDTH + col]!;
          const index = (firstRow + row) * WIDTH + col;
          expect(after[index]).toBeCloseTo(before[index]! + 0.5 * 2 * delta, 6);
        }
      }
    };
    expectDelta('double_blocks.0.img_attn.qkv.weight', WIDTH, 'transformer_blocks.0.attn.to_k');
    expectDelta('single_blocks.1.linear1.weight', 3 * WIDTH, 'single_transformer_blocks.1.proj_mlp');
    expect(values(merged.tensors.get('double_blocks.1.img_attn.qkv.weight')!)).toEqual(
      values(original.get('double_blocks.1.img_attn.qkv.weight')!),
    );
  });

  it('refuses an SD LoRA against a Flux base in one line naming both files', async () => {
    const base = write('flux1-tiny.safetensors', bflTransformer());
    const sd = write(
      'sd.safetensors',
      new Map([
        ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', tensor([2, 4], 1)],
        ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', tensor([4, 2], 2)],
      ]),
    );
    const output = join(dir, 'merged.safetensors');
    const error = await mergeLorasIntoFlux({ base, loras: [{ path: sd, weight: 1 }], output }).catch((e) => e);
    expect(error).toMatchObject({ code: 'lora_family_mismatch', culprit: sd });
    expect(error.message).toContain(base);
    expect(error.message).not.toContain('\n');
  });

  it('refuses a Flux LoRA of other widths, naming the module and the weight', async () => {
    const base = write('flux1-tiny.safetensors', bflTransformer());
    const lora = write(
      'wide.safetensors',
      new Map([
        ['lora_unet_double_blocks_0_img_attn_proj.lora_down.weight', tensor([2, 8], 1)],
        ['lora_unet_double_blocks_0_img_attn_proj.lora_up.weight', tensor([8, 2], 2)],
      ]),
    );
    await expect(
      mergeLorasIntoFlux({ base, loras: [{ path: lora, weight: 1 }], output: join(dir, 'm.safetensors') }),
    ).rejects.toMatchObject({ code: 'lora_shape_mismatch', culprit: lora });
  });
});

describe('resize and combine on Flux LoRAs', () => {
  it('resizes a diffusers Flux file into a kohya Flux file', async () => {
    const input = writeDiffusersLora();
    const output = join(dir, 'r1.safetensors');
    const { report } = await resizeLoraFile({ input, output, rank: 1 });
    expect(report.map((r) => r.name).sort()).toEqual([
      'lora_unet_double_blocks_0_img_attn_proj',
      'lora_unet_double_blocks_0_img_attn_qkv',
      'lora_unet_single_blocks_1_linear1',
      'lora_unet_single_blocks_1_linear2',
    ]);
    const written = await readSafetensors(output);
    expect(written.tensors.get('lora_unet_single_blocks_1_linear1.lora_down.weight')?.shape).toEqual([1, WIDTH]);
    expect(written.metadata.ss_base_model_version).toBe('flux1');
  });

  it('refuses to combine a Flux LoRA with an SD one', async () => {
    const flux = writeDiffusersLora();
    const sd = write(
      'sd.safetensors',
      new Map([
        ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', tensor([2, 4, 1, 1], 1)],
        ['lora_unet_down_blocks_0_attentions_0_proj_in.lora_up.weight', tensor([4, 2, 1, 1], 2)],
      ]),
      { ss_base_model_version: 'sd_v1' },
    );
    const inputs = [
      { path: flux, weight: 1 },
      { path: sd, weight: 1 },
    ];
    await expect(combineLoraFiles({ inputs, output: join(dir, 'c.safetensors') })).rejects.toMatchObject({
      code: 'lora_family_mismatch',
      culprit: flux,
    });
  });
});

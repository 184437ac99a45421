import { describe, expect, it } from 'vitest';
import { alphaValue } from './alpha-tensor.js';
import { decodeFloats, encodeFloats } from './float-codec.js';
import {
  detectFluxLora,
  fluxCheckpointTargets,
  fluxDiffusersModules,
  fluxKohyaTarget,
  fluxKohyaToPeft,
  fluxPeftToKohya,
} from './flux-keys.js';
import type { Tensor } from './safetensors.js';

const WIDTH = 4; // attention width of the made-up transformer (Flux.1: 3072)

/** A seeded F32 tensor with distinct values. */
function tensor(shape: number[], seed: number): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: count }, (_, i) => Math.sin(seed * 97 + i * 13) / 2);
  return { dtype: 'F32', shape, data: encodeFloats('F32', values) };
}

function matrix(t: Tensor): number[][] {
  const values = decodeFloats('F32', t.data);
  const [rows = 0, cols = 0] = t.shape;
  return Array.from({ length: rows }, (_, r) => Array.from(values.subarray(r * cols, (r + 1) * cols)));
}

function product(up: Tensor, down: Tensor): number[][] {
  const u = matrix(up);
  const d = matrix(down);
  return u.map((row) => d[0]!.map((_, c) => row.reduce((sum, value, k) => sum + value * d[k]![c]!, 0)));
}

/** PEFT pair for `modulePath` with rank r: lora_A [r, in], lora_B [out, r]. */
function pair(modulePath: string, r: number, inFeatures: number, out: number, seed: number): [string, Tensor][] {
  return [
    [`transformer.${modulePath}.lora_A.weight`, tensor([r, inFeatures], seed)],
    [`transformer.${modulePath}.lora_B.weight`, tensor([out, r], seed + 1)],
  ];
}

function metadata(r: number, alpha: number, alphaPattern: Record<string, number> = {}) {
  const config = { r, lora_alpha: alpha, alpha_pattern: alphaPattern, rank_pattern: {}, use_dora: false };
  return {
    lora_adapter_metadata: JSON.stringify(
      Object.fromEntries(Object.entries(config).map(([k, v]) => [`transformer.${k}`, v])),
    ),
  };
}

function expectClose(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  for (const [r, row] of actual.entries()) {
    for (const [c, value] of row.entries()) expect(value).toBeCloseTo(expected[r]![c]!, 6);
  }
}

const scaledDelta = (up: Tensor, down: Tensor, scale: number) =>
  product(up, down).map((row) => row.map((v) => v * scale));

describe('fluxKohyaTarget', () => {
  it('names double- and single-block modules as kohya and ComfyUI do, with their place in a fused Linear', () => {
    expect(fluxKohyaTarget('transformer_blocks.0.attn.to_k')).toEqual({
      name: 'lora_unet_double_blocks_0_img_attn_qkv',
      part: 1,
      parts: 3,
      swapHalves: false,
    });
    expect(fluxKohyaTarget('transformer_blocks.18.attn.add_v_proj')?.name).toBe(
      'lora_unet_double_blocks_18_txt_attn_qkv',
    );
    expect(fluxKohyaTarget('transformer_blocks.3.attn.to_out.0')?.name).toBe('lora_unet_double_blocks_3_img_attn_proj');
    expect(fluxKohyaTarget('transformer_blocks.3.ff_context.net.2')?.name).toBe('lora_unet_double_blocks_3_txt_mlp_2');
    expect(fluxKohyaTarget('transformer_blocks.3.norm1.linear')?.name).toBe('lora_unet_double_blocks_3_img_mod_lin');
    expect(fluxKohyaTarget('single_transformer_blocks.37.proj_mlp')).toMatchObject({
      name: 'lora_unet_single_blocks_37_linear1',
      part: 3,
      parts: 4,
    });
    expect(fluxKohyaTarget('single_transformer_blocks.2.proj_out')?.name).toBe('lora_unet_single_blocks_2_linear2');
    expect(fluxKohyaTarget('single_transformer_blocks.2.norm.linear')?.name).toBe(
      'lora_unet_single_blocks_2_modulation_lin',
    );
  });

  it('maps the top-level layers, and marks the final AdaLN whose halves swap', () => {
    expect(fluxKohyaTarget('proj_out')?.name).toBe('lora_unet_final_layer_linear');
    expect(fluxKohyaTarget('norm_out.linear')).toEqual({
      name: 'lora_unet_final_layer_adaLN_modulation_1',
      part: 0,
      parts: 1,
      swapHalves: true,
    });
    expect(fluxKohyaTarget('time_text_embed.guidance_embedder.linear_2')?.name).toBe('lora_unet_guidance_in_out_layer');
    expect(fluxKohyaTarget('transformer_blocks.0.attn.norm_q')).toBeUndefined();
    expect(fluxKohyaTarget('down_blocks.0.attentions.0.proj_in')).toBeUndefined();
  });

  it('is inverted by fluxDiffusersModules, in part order', () => {
    expect(fluxDiffusersModules('lora_unet_single_blocks_5_linear1')).toEqual([
      'single_transformer_blocks.5.attn.to_q',
      'single_transformer_blocks.5.attn.to_k',
      'single_transformer_blocks.5.attn.to_v',
      'single_transformer_blocks.5.proj_mlp',
    ]);
    expect(fluxDiffusersModules('lora_unet_double_blocks_1_txt_mlp_0')).toEqual([
      'transformer_blocks.1.ff_context.net.0.proj',
    ]);
    expect(fluxDiffusersModules('lora_unet_final_layer_linear')).toEqual(['proj_out']);
    expect(fluxDiffusersModules('lora_unet_down_blocks_0_attentions_0_proj_in')).toEqual([]);
  });
});

describe('detectFluxLora', () => {
  it('tells diffusers and kohya Flux files from SD ones', () => {
    expect(detectFluxLora(['transformer.single_transformer_blocks.0.proj_out.lora_A.weight'])).toBe('diffusers');
    expect(detectFluxLora(['lora_unet_double_blocks_0_img_attn_qkv.alpha'])).toBe('kohya');
    expect(detectFluxLora(['unet.down_blocks.0.attentions.0.proj_in.lora_A.weight'])).toBeUndefined();
    expect(detectFluxLora(['lora_unet_down_blocks_0_attentions_0_proj_in.alpha'])).toBeUndefined();
  });
});

describe('fluxPeftToKohya', () => {
  it('fuses q, k, v into one qkv LoRA whose up·down, at kohya scale, is each part’s own delta on its rows', () => {
    const tensors = new Map([
      ...pair('transformer_blocks.0.attn.to_q', 2, 5, WIDTH, 1),
      ...pair('transformer_blocks.0.attn.to_k', 2, 5, WIDTH, 3),
      ...pair('transformer_blocks.0.attn.to_v', 2, 5, WIDTH, 5),
    ]);
    const result = fluxPeftToKohya({ metadata: metadata(2, 8), tensors }, { fileName: 'f.safetensors' });
    const name = 'lora_unet_double_blocks_0_img_attn_qkv';
    const down = result.tensors.get(`${name}.lora_down.weight`)!;
    const up = result.tensors.get(`${name}.lora_up.weight`)!;
    expect(down.shape).toEqual([6, 5]);
    expect(up.shape).toEqual([3 * WIDTH, 6]);
    const alpha = alphaValue(result.tensors.get(`${name}.alpha`)!)!;
    expect(alpha).toBe(4 * 6); // PEFT scale 8/2 = 4 = alpha / 6
    expect(result.modules).toEqual([{ name, component: 'unet', rank: 6, alpha: 24 }]);
    const fusedDelta = scaledDelta(up, down, alpha / 6);
    const expected = ['to_q', 'to_k', 'to_v'].flatMap((part) =>
      scaledDelta(
        tensors.get(`transformer.transformer_blocks.0.attn.${part}.lora_B.weight`)!,
        tensors.get(`transformer.transformer_blocks.0.attn.${part}.lora_A.weight`)!,
        4,
      ),
    );
    expectClose(fusedDelta, expected);
  });

  it('places a single block’s MLP part after q, k, v at 4× width and leaves untrained parts zero', () => {
    const tensors = new Map([
      ...pair('single_transformer_blocks.1.attn.to_k', 3, 5, WIDTH, 7),
      ...pair('single_transformer_blocks.1.proj_mlp', 3, 5, 4 * WIDTH, 9),
    ]);
    const result = fluxPeftToKohya({ metadata: metadata(3, 3), tensors }, { fileName: 'f.safetensors' });
    const name = 'lora_unet_single_blocks_1_linear1';
    const up = result.tensors.get(`${name}.lora_up.weight`)!;
    const down = result.tensors.get(`${name}.lora_down.weight`)!;
    expect(up.shape).toEqual([7 * WIDTH, 6]);
    const delta = product(up, down);
    const k = product(
      tensors.get('transformer.single_transformer_blocks.1.attn.to_k.lora_B.weight')!,
      tensors.get('transformer.single_transformer_blocks.1.attn.to_k.lora_A.weight')!,
    );
    const mlp = product(
      tensors.get('transformer.single_transformer_blocks.1.proj_mlp.lora_B.weight')!,
      tensors.get('transformer.single_transformer_blocks.1.proj_mlp.lora_A.weight')!,
    );
    const expected = [
      ...Array.from({ length: WIDTH }, () => Array(5).fill(0)), // q: not trained
      ...k,
      ...Array.from({ length: WIDTH }, () => Array(5).fill(0)), // v: not trained
      ...mlp,
    ];
    expectClose(delta, expected);
    expect(alphaValue(result.tensors.get(`${name}.alpha`)!)).toBe(6); // scale 3/3 = 1 = 6/6
  });

  it('keeps each part’s own scale when alpha_pattern gives the parts different ones', () => {
    const tensors = new Map([
      ...pair('transformer_blocks.0.attn.add_q_proj', 2, 3, WIDTH, 11),
      ...pair('transformer_blocks.0.attn.add_v_proj', 2, 3, WIDTH, 13),
    ]);
    const result = fluxPeftToKohya(
      { metadata: metadata(2, 2, { add_v_proj: 6 }), tensors },
      { fileName: 'f.safetensors' },
    );
    const name = 'lora_unet_double_blocks_0_txt_attn_qkv';
    const alpha = alphaValue(result.tensors.get(`${name}.alpha`)!)!;
    const delta = scaledDelta(
      result.tensors.get(`${name}.lora_up.weight`)!,
      result.tensors.get(`${name}.lora_down.weight`)!,
      alpha / 4,
    );
    const v = scaledDelta(
      tensors.get('transformer.transformer_blocks.0.attn.add_v_proj.lora_B.weight')!,
      tensors.get('transformer.transformer_blocks.0.attn.add_v_proj.lora_A.weight')!,
      3,
    );
    expectClose(delta.slice(2 * WIDTH), v);
  });

  it('passes unfused modules through byte for byte and swaps the final AdaLN’s output halves', () => {
    const tensors = new Map([
      ...pair('transformer_blocks.0.ff.net.2', 2, 16, WIDTH, 15),
      ...pair('norm_out.linear', 2, WIDTH, 2 * WIDTH, 17),
    ]);
    const result = fluxPeftToKohya({ metadata: {}, tensors }, { fileName: 'f.safetensors' });
    expect(result.tensors.get('lora_unet_double_blocks_0_img_mlp_2.lora_up.weight')!.data).toBe(
      tensors.get('transformer.transformer_blocks.0.ff.net.2.lora_B.weight')!.data,
    );
    expect(result.alphaSources).toEqual({ unet: 'rank' });
    const original = matrix(tensors.get('transformer.norm_out.linear.lora_B.weight')!);
    const swapped = matrix(result.tensors.get('lora_unet_final_layer_adaLN_modulation_1.lora_up.weight')!);
    expect(swapped).toEqual([...original.slice(WIDTH), ...original.slice(0, WIDTH)]);
  });

  it('refuses a key that is not a Flux transformer LoRA weight, naming the file', () => {
    const tensors = new Map(pair('transformer_blocks.0.attn.norm_q', 2, 3, 3, 1));
    expect(() => fluxPeftToKohya({ metadata: {}, tensors }, { fileName: 'x.safetensors' })).toThrow(
      expect.objectContaining({ code: 'not_flux_lora_key', culprit: 'x.safetensors' }),
    );
    const half = new Map(pair('transformer_blocks.0.attn.to_q', 2, 3, 3, 1).slice(0, 1));
    expect(() => fluxPeftToKohya({ metadata: {}, tensors: half }, { fileName: 'x.safetensors' })).toThrow(
      expect.objectContaining({ code: 'incomplete_module' }),
    );
  });
});

describe('fluxKohyaToPeft', () => {
  it('gives back the diffusers file fluxPeftToKohya was made from: parts, ranks, scales (block-diagonal up)', () => {
    const tensors = new Map([
      ...pair('transformer_blocks.0.attn.to_q', 2, 5, WIDTH, 1),
      ...pair('transformer_blocks.0.attn.to_k', 2, 5, WIDTH, 3),
      ...pair('transformer_blocks.0.attn.to_v', 2, 5, WIDTH, 5),
      ...pair('single_transformer_blocks.0.proj_mlp', 2, 5, 4 * WIDTH, 7),
      ...pair('norm_out.linear', 2, WIDTH, 2 * WIDTH, 9),
    ]);
    const kohya = fluxPeftToKohya({ metadata: metadata(2, 8), tensors }, { fileName: 'f' });
    const back = fluxKohyaToPeft({ metadata: {}, tensors: kohya.tensors }, { fileName: 'k' });
    expect([...back.tensors.keys()].sort()).toEqual([...tensors.keys()].sort());
    for (const [key, original] of tensors) {
      expect(back.tensors.get(key)!.shape).toEqual(original.shape);
      expect(matrix(back.tensors.get(key)!)).toEqual(matrix(original));
    }
    const config = JSON.parse(back.metadata.lora_adapter_metadata!);
    expect([config['transformer.r'], config['transformer.lora_alpha']]).toEqual([2, 8]);
    expect(config['transformer.alpha_pattern']).toEqual({});
  });

  it('splits a dense fused LoRA (kohya’s default) by rows: every part keeps the whole down, ΔW unchanged', () => {
    const down = tensor([3, 5], 21);
    const up = tensor([3 * WIDTH, 3], 23);
    const alpha = { dtype: 'F32' as const, shape: [], data: encodeFloats('F32', Float32Array.of(1.5)) };
    const name = 'lora_unet_double_blocks_2_txt_attn_qkv';
    const back = fluxKohyaToPeft(
      {
        metadata: {},
        tensors: new Map([
          [`${name}.lora_down.weight`, down],
          [`${name}.lora_up.weight`, up],
          [`${name}.alpha`, alpha],
        ]),
      },
      { fileName: 'k' },
    );
    const fused = scaledDelta(up, down, 1.5 / 3);
    for (const [p, part] of ['add_q_proj', 'add_k_proj', 'add_v_proj'].entries()) {
      const a = back.tensors.get(`transformer.transformer_blocks.2.attn.${part}.lora_A.weight`)!;
      const b = back.tensors.get(`transformer.transformer_blocks.2.attn.${part}.lora_B.weight`)!;
      expect(a.shape).toEqual([3, 5]);
      expectClose(scaledDelta(b, a, 1.5 / 3), fused.slice(p * WIDTH, (p + 1) * WIDTH));
    }
  });

  it('refuses SD kohya modules', () => {
    const tensors = new Map([['lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight', tensor([2, 3], 1)]]);
    expect(() => fluxKohyaToPeft({ metadata: {}, tensors }, { fileName: 'k' })).toThrow(
      expect.objectContaining({ code: 'not_flux_lora_key' }),
    );
  });
});

describe('fluxCheckpointTargets', () => {
  const info = (shape: number[]) => ({ dtype: 'BF16' as const, shape, dataOffsets: [0, 0] as [number, number] });

  it('names every 2-D transformer weight of a BFL or ComfyUI checkpoint the kohya way', () => {
    for (const prefix of ['', 'model.diffusion_model.']) {
      const tensors = new Map([
        [`${prefix}double_blocks.0.img_attn.norm.key_norm.scale`, info([128])],
        [`${prefix}double_blocks.0.img_attn.qkv.weight`, info([9216, 3072])],
        [`${prefix}double_blocks.0.img_attn.qkv.bias`, info([9216])],
        [`${prefix}single_blocks.3.linear1.weight`, info([21504, 3072])],
        [`${prefix}final_layer.adaLN_modulation.1.weight`, info([6144, 3072])],
        ['vae.decoder.conv_in.weight', info([512, 16, 3, 3])],
      ]);
      const targets = fluxCheckpointTargets(tensors)!;
      expect(Object.fromEntries(targets)).toEqual({
        lora_unet_double_blocks_0_img_attn_qkv: { key: `${prefix}double_blocks.0.img_attn.qkv.weight` },
        lora_unet_single_blocks_3_linear1: { key: `${prefix}single_blocks.3.linear1.weight` },
        lora_unet_final_layer_adaLN_modulation_1: { key: `${prefix}final_layer.adaLN_modulation.1.weight` },
      });
      // Every name fluxPeftToKohya writes for these modules is one of them.
      expect(targets.has(fluxKohyaTarget('transformer_blocks.0.attn.to_v')!.name)).toBe(true);
      expect(targets.has(fluxKohyaTarget('single_transformer_blocks.3.proj_mlp')!.name)).toBe(true);
    }
  });

  it('is undefined for an SD checkpoint', () => {
    const tensors = new Map([['model.diffusion_model.input_blocks.0.0.weight', info([320, 4, 3, 3])]]);
    expect(fluxCheckpointTargets(tensors)).toBeUndefined();
  });
});

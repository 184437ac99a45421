// readLoraModules on real files (a diffusers save_lora_weights fixture) and small in-memory kohya/diffusers files:
// the same modules whatever the key format, and every refusal named.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alphaTensor } from './alpha-tensor.js';
import { adapterMetadataJson, peftContent } from './kohya-to-peft.js';
import { LoraFileError } from './lora-file-error.js';
import { readLoraModules, type LoraModule } from './lora-modules.js';
import { kohyaContent } from './modules-to-kohya.js';
import { moduleScale, parseAdapterMetadata } from './peft-adapter-config.js';
import { parseSafetensors, tensorSizeBytes, type Dtype, type SafetensorsContent, type Tensor } from './safetensors.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);
const peftSd1 = () =>
  parseSafetensors(readFileSync(new URL('peft-sd1-tiny.safetensors', FIXTURES)), 'peft-sd1-tiny.safetensors');

function tensor(shape: number[], dtype: Dtype = 'F16', seed = 0): Tensor {
  const data = new Uint8Array(Number(tensorSizeBytes(dtype, shape)));
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + seed) % 251;
  return { dtype, shape, data };
}

const content = (tensors: Record<string, Tensor>, metadata: Record<string, string> = {}): SafetensorsContent => ({
  metadata,
  tensors: new Map(Object.entries(tensors)),
});

function failure(file: SafetensorsContent, family?: 'sd1' | 'sdxl'): [string, string, string | undefined] {
  try {
    readLoraModules(file, { fileName: 'x.safetensors', family });
  } catch (error) {
    if (error instanceof LoraFileError) return [error.code, error.line, error.hint];
    throw error;
  }
  throw new Error('read without error');
}

const Q = 'down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
const KQ = `lora_unet_${Q.replaceAll('.', '_')}`;

describe('readLoraModules', () => {
  it('reads a diffusers save_lora_weights file with per-module ranks and alphas from lora_adapter_metadata', () => {
    const expected = JSON.parse(readFileSync(new URL('peft-sd1-tiny.expected.json', FIXTURES), 'utf8')) as Record<
      string,
      { rank: number; alpha: number }
    >;
    const set = readLoraModules(peftSd1(), { fileName: 'peft-sd1-tiny.safetensors' });
    expect([set.format.name, set.format.variant, set.family]).toEqual(['diffusers', 'peft', 'sd1']);
    const got = Object.fromEntries(
      set.modules.map((m) => [
        `${m.component}.${m.path.replace(/^text_model\./, '')}`,
        { rank: m.rank, alpha: m.alpha },
      ]),
    );
    expect(got).toEqual(expected);
    const q = set.modules.find((m) => m.path === Q)!;
    expect(q.kohyaName).toBe(KQ);
    expect(set.modules.find((m) => m.component === 'text_encoder')!.kohyaName).toMatch(
      /^lora_te_text_model_encoder_layers_\d_self_attn_/,
    );
  });

  it('reads kohya SDXL LDM names and keeps the alpha tensor as stored', () => {
    const alpha = alphaTensor(3, 'F16', 'x');
    const file = content({
      'lora_unet_input_blocks_4_1_proj_in.lora_down.weight': tensor([2, 64]),
      'lora_unet_input_blocks_4_1_proj_in.lora_up.weight': tensor([64, 2]),
      'lora_unet_input_blocks_4_1_proj_in.alpha': alpha,
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': tensor([4, 32]),
      'lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': tensor([37, 4]),
    });
    const set = readLoraModules(file, { fileName: 'x' });
    expect(set.family).toBe('sdxl');
    expect(set.modules.map((m) => [m.component, m.path, m.kohyaName, m.rank, m.alpha])).toEqual([
      ['unet', 'down_blocks.1.attentions.0.proj_in', 'lora_unet_input_blocks_4_1_proj_in', 2, 3],
      ['text_encoder_2', 'text_model.encoder.layers.0.mlp.fc1', 'lora_te2_text_model_encoder_layers_0_mlp_fc1', 4, 4],
    ]);
    expect(set.modules[0]!.alphaTensor).toBe(alpha);
  });

  it('reads SDXL LDM names of a UNet with one layer per block (tiny test models) and writes them back alike', () => {
    const names = [
      'input_blocks_3_1_proj_in',
      'output_blocks_1_1_proj_out',
      'input_blocks_2_0_op',
      'output_blocks_1_2_conv',
    ];
    const file = content(
      Object.fromEntries(
        names.flatMap((n) => [
          [`lora_unet_${n}.lora_down.weight`, tensor([2, 32])],
          [`lora_unet_${n}.lora_up.weight`, tensor([32, 2])],
        ]),
      ),
    );
    const set = readLoraModules(file, { fileName: 'x', family: 'sdxl' });
    expect(set.layersPerBlock).toBe(1);
    expect(set.modules.map((m) => m.path)).toEqual([
      'down_blocks.1.attentions.0.proj_in',
      'up_blocks.0.attentions.1.proj_out',
      'down_blocks.0.downsamplers.0.conv',
      'up_blocks.0.upsamplers.0.conv',
    ]);
    const peft = peftContent(set.modules, {}, set.layersPerBlock);
    expect(peft.metadata['lora_scripts.unet_layers_per_block']).toBe('1');
    expect(readLoraModules(peft, { fileName: 'p', family: 'sdxl' }).modules.map((m) => m.kohyaName)).toEqual(
      names.map((n) => `lora_unet_${n}`),
    );
  });

  it('reads SD 1.x UNet layers named in the LDM layout (as some tools write them) and names them as sd-scripts does', () => {
    const ldm = {
      input_blocks_1_1_proj_in: 'down_blocks.0.attentions.0.proj_in',
      input_blocks_1_0_in_layers_2: 'down_blocks.0.resnets.0.conv1',
      input_blocks_3_0_op: 'down_blocks.0.downsamplers.0.conv',
      middle_block_1_transformer_blocks_0_attn2_to_k: 'mid_block.attentions.0.transformer_blocks.0.attn2.to_k',
      output_blocks_2_1_conv: 'up_blocks.0.upsamplers.0.conv',
      output_blocks_11_1_transformer_blocks_0_attn2_to_out_0:
        'up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0',
    };
    const file = content(
      Object.fromEntries(
        Object.keys(ldm).flatMap((n) => [
          [`lora_unet_${n}.lora_down.weight`, tensor([2, 32])],
          [`lora_unet_${n}.lora_up.weight`, tensor([32, 2])],
        ]),
      ),
    );
    const set = readLoraModules(file, { fileName: 'x' });
    expect([set.family, set.familyBasis]).toEqual([
      'sd1',
      'SD 1.x/2.x block layout, with no width or metadata telling which (SD 1.x and 2.x keys are named alike)',
    ]);
    expect(set.modules.map((m) => [m.path, m.kohyaName])).toEqual(
      Object.values(ldm).map((path) => [path, `lora_unet_${path.replaceAll('.', '_')}`]),
    );
  });

  it('reads the older diffusers spellings (lora.down, lora_linear_layer, attn processors) as the same modules', () => {
    const pair = (stem: string, down: string, up: string) => ({
      [`${stem}${down}`]: tensor([2, 32]),
      [`${stem}${up}`]: tensor([32, 2]),
    });
    const file = content({
      ...pair(`unet.${Q.replace('to_q', 'processor.to_q')}`, '_lora.down.weight', '_lora.up.weight'),
      ...pair(`unet.${Q.replace('to_q', 'processor.to_out')}`, '_lora.down.weight', '_lora.up.weight'),
      ...pair(`unet.${Q.replace('to_q', 'to_k')}`, '.lora.down.weight', '.lora.up.weight'),
      ...pair('text_encoder.text_model.encoder.layers.0.self_attn.to_v', '_lora.down.weight', '_lora.up.weight'),
      ...pair(
        'text_encoder.text_model.encoder.layers.0.self_attn.q_proj',
        '.lora_linear_layer.down.weight',
        '.lora_linear_layer.up.weight',
      ),
    });
    const set = readLoraModules(file, { fileName: 'x', family: 'sd1' });
    expect(set.format.variant).toBe('attn processors');
    expect(set.modules.map((m) => `${m.component}.${m.path}`).sort()).toEqual([
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj',
      'text_encoder.text_model.encoder.layers.0.self_attn.v_proj',
      `unet.${Q.replace('to_q', 'to_k')}`,
      `unet.${Q.replace('to_q', 'to_out.0')}`,
      `unet.${Q}`,
    ]);
  });

  it('names the key it cannot place, the LyCORIS variant it cannot convert, and a missing family', () => {
    const odd = content({
      'lora_unet_down_blocks_0_attentions_0_proj_inn.lora_down.weight': tensor([2, 32]),
      'lora_unet_down_blocks_0_attentions_0_proj_inn.lora_up.weight': tensor([32, 2]),
    });
    expect(failure(odd, 'sd1').slice(0, 2)).toEqual([
      'unknown_module',
      'x.safetensors: key `lora_unet_down_blocks_0_attentions_0_proj_inn.lora_down.weight`: module `lora_unet_down_blocks_0_attentions_0_proj_inn` is not a LoRA layer of an SD 1.x, SD 2.x or SDXL UNet',
    ]);
    const loha = content({
      [`${KQ}.hada_w1_a`]: tensor([32, 2]),
      [`${KQ}.hada_w1_b`]: tensor([2, 32]),
      [`${KQ}.hada_w2_a`]: tensor([32, 2]),
      [`${KQ}.hada_w2_b`]: tensor([2, 32]),
      [`${KQ}.alpha`]: alphaTensor(1, 'F32', 'x'),
    });
    expect(failure(loha)).toEqual([
      'unsupported_format',
      `x.safetensors: is a lycoris LoHa file (key \`${KQ}.hada_w1_a\`); only LoRA/LoCon modules (down, up, alpha) can be converted`,
      "LyCORIS' own tools handle its LoHa/LoKr/DoRA modules; `lora-scripts inspect` shows what the file holds",
    ]);
    const teOnly = content({
      'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': tensor([2, 32]),
      'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': tensor([37, 2]),
    });
    expect(failure(teOnly).slice(0, 3)).toEqual([
      'family_unknown',
      'x.safetensors: cannot tell the base family (no telling layer names, widths or metadata)',
      'pass `--family sd1`, `sd2` or `sdxl`',
    ]);
    const halfPair = content({
      [`${KQ}.lora_down.weight`]: tensor([2, 32]),
      [`${KQ}.alpha`]: alphaTensor(1, 'F32', 'x'),
    });
    expect(failure(halfPair, 'sd1').slice(0, 2)).toEqual([
      'incomplete_module',
      `x.safetensors: \`${KQ}.lora_down.weight\` has no matching up weight`,
    ]);
    const twice = content({
      [`${KQ}.lora_down.weight`]: tensor([2, 32]),
      [`${KQ}.lora_up.weight`]: tensor([32, 2]),
      'lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': tensor([2, 32]),
      'lora_te1_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': tensor([37, 2]),
      'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight': tensor([2, 32]),
      'lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight': tensor([37, 2]),
    });
    expect(failure(twice, 'sd1').slice(0, 2)).toEqual([
      'duplicate_module',
      'x.safetensors: `lora_te1_text_model_encoder_layers_0_mlp_fc1` and `lora_te_text_model_encoder_layers_0_mlp_fc1` are the same module (text_encoder `text_model.encoder.layers.0.mlp.fc1`)',
    ]);
    expect(
      failure(
        content({ [`${KQ}.lora_down.weight`]: tensor([2, 32]), [`${KQ}.lora_up.weight`]: tensor([32, 3]) }),
        'sd1',
      )[0],
    ).toBe('lora_shape_mismatch');
  });
});

describe('peftContent + kohyaContent', () => {
  const modules = (): LoraModule[] => readLoraModules(peftSd1(), { fileName: 'f' }).modules;

  it('writes an adapter config from which PEFT gives every module its own rank and alpha back', () => {
    const set = modules();
    const configs = parseAdapterMetadata(adapterMetadataJson(set), 'f');
    for (const m of set) {
      const written = m.component === 'unet' ? m.path : m.path; // our files keep text_model.; patterns match either
      expect(moduleScale(configs[m.component], written, m.rank, 'f')).toEqual({ rank: m.rank, alpha: m.alpha });
      expect(moduleScale(configs[m.component], written.replace(/^text_model\./, ''), m.rank, 'f')).toEqual({
        rank: m.rank,
        alpha: m.alpha,
      });
    }
    const json = JSON.parse(adapterMetadataJson(set)) as Record<string, unknown>;
    expect(json['unet.r']).toBe(4);
    expect(json['unet.rank_pattern']).toEqual({ [Q]: 2 });
    expect(json['unet.alpha_pattern']).toEqual({ 'down_blocks.1.attentions.1.transformer_blocks.0.attn2.to_k': 3 });
    expect(Object.keys(json)).toEqual([...Object.keys(json)].sort());
  });

  it('diffusers → kohya → diffusers keeps every weight tensor (the same bytes) and every alpha', () => {
    const set = modules();
    const kohya = kohyaContent(set, { metadata: {}, culprit: 'k' });
    const back = readLoraModules(kohya, { fileName: 'k' }).modules;
    const peft = peftContent(back, { ss_output_name: 'x' });
    const again = readLoraModules(peft, { fileName: 'p' }).modules;
    expect(again.map((m) => [m.component, m.path, m.rank, m.alpha])).toEqual(
      set.map((m) => [m.component, m.path, m.rank, m.alpha]),
    );
    again.forEach((m, i) => {
      expect(Buffer.from(m.down.data).equals(Buffer.from(set[i]!.down.data))).toBe(true);
      expect(Buffer.from(m.up.data).equals(Buffer.from(set[i]!.up.data))).toBe(true);
    });
    expect(peft.metadata).toMatchObject({ format: 'pt', ss_output_name: 'x', 'lora_scripts.kohya_alpha_dtype': 'F32' });
  });
});

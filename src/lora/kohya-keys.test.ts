// Key mapping: hand-checked tables from the references, and two oracles written by Python (make_fixtures.py).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { peftKeyToKohya, sdxlLdmPath } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);
const oraclePairs = (name: string) =>
  (JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as { pairs: Array<[string, string]> }).pairs;

describe('peftKeyToKohya for SD1', () => {
  it.each([
    [
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight',
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
    ],
    [
      'unet.up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0.lora_B.weight',
      'lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0.lora_up.weight',
    ],
    [
      'unet.mid_block.attentions.0.transformer_blocks.0.ff.net.0.proj.lora_A.weight',
      'lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_0_proj.lora_down.weight',
    ],
    [
      'unet.down_blocks.1.attentions.1.proj_in.lora_B.weight',
      'lora_unet_down_blocks_1_attentions_1_proj_in.lora_up.weight',
    ],
    [
      'unet.down_blocks.0.downsamplers.0.conv.lora_A.weight',
      'lora_unet_down_blocks_0_downsamplers_0_conv.lora_down.weight',
    ],
    [
      'text_encoder.text_model.encoder.layers.0.self_attn.q_proj.lora_A.weight',
      'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight',
    ],
    // transformers 5 flattens CLIPTextModel; the kohya name still needs text_model_.
    [
      'text_encoder.encoder.layers.11.mlp.fc1.lora_B.weight',
      'lora_te_text_model_encoder_layers_11_mlp_fc1.lora_up.weight',
    ],
    // "diffusers new" spellings (convert_state_dict_to_diffusers).
    [
      'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight',
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.lora_down.weight',
    ],
    [
      'text_encoder.text_model.encoder.layers.0.self_attn.k_proj.lora_linear_layer.up.weight',
      'lora_te_text_model_encoder_layers_0_self_attn_k_proj.lora_up.weight',
    ],
  ])('%s', (key, kohya) => {
    expect(peftKeyToKohya(key, 'sd1')).toBe(kohya);
  });

  it('matches diffusers convert_state_dict_to_kohya on every key of a tiny SD1-layout UNet and text encoder', () => {
    const pairs = oraclePairs('sd1-kohya-oracle.json');
    expect(pairs.length).toBeGreaterThan(400);
    // diffusers names every text encoder lora_te1_; sd-scripts names the SD1 one lora_te_
    // (docs/formats/kohya-lora.md §1).
    const expected = pairs.map(([key, kohya]) => [key, kohya.replace(/^lora_te1_/, 'lora_te_')]);
    expect(pairs.map(([key]) => [key, peftKeyToKohya(key, 'sd1')])).toEqual(expected);
    expect(pairs.some(([key]) => key.startsWith('text_encoder.encoder.'))).toBe(true);
  });

  it('writes lora_te_ for SD2 as for SD1', () => {
    expect(peftKeyToKohya('text_encoder.encoder.layers.22.self_attn.out_proj.lora_A.weight', 'sd2')).toBe(
      'lora_te_text_model_encoder_layers_22_self_attn_out_proj.lora_down.weight',
    );
  });
});

describe('peftKeyToKohya for SDXL', () => {
  it.each([
    // The examples of docs/formats/kohya-lora.md §3 and docs/formats/diffusers-peft-lora.md §4.
    [
      'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight',
      'lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q.lora_down.weight',
    ],
    ['unet.down_blocks.2.attentions.0.proj_in.lora_A.weight', 'lora_unet_input_blocks_7_1_proj_in.lora_down.weight'],
    [
      'unet.down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2.lora_B.weight',
      'lora_unet_input_blocks_8_1_transformer_blocks_9_ff_net_2.lora_up.weight',
    ],
    [
      'unet.mid_block.attentions.0.transformer_blocks.9.attn2.to_k.lora_A.weight',
      'lora_unet_middle_block_1_transformer_blocks_9_attn2_to_k.lora_down.weight',
    ],
    [
      'unet.up_blocks.0.attentions.0.transformer_blocks.0.ff.net.0.proj.lora_A.weight',
      'lora_unet_output_blocks_0_1_transformer_blocks_0_ff_net_0_proj.lora_down.weight',
    ],
    ['unet.down_blocks.0.resnets.0.conv1.lora_A.weight', 'lora_unet_input_blocks_1_0_in_layers_2.lora_down.weight'],
    ['unet.down_blocks.0.resnets.0.conv2.lora_A.weight', 'lora_unet_input_blocks_1_0_out_layers_3.lora_down.weight'],
    [
      'unet.down_blocks.0.resnets.0.time_emb_proj.lora_A.weight',
      'lora_unet_input_blocks_1_0_emb_layers_1.lora_down.weight',
    ],
    [
      'unet.down_blocks.1.resnets.0.conv_shortcut.lora_A.weight',
      'lora_unet_input_blocks_4_0_skip_connection.lora_down.weight',
    ],
    ['unet.down_blocks.0.downsamplers.0.conv.lora_A.weight', 'lora_unet_input_blocks_3_0_op.lora_down.weight'],
    ['unet.up_blocks.0.upsamplers.0.conv.lora_A.weight', 'lora_unet_output_blocks_2_2_conv.lora_down.weight'],
    ['unet.mid_block.resnets.1.conv1.lora_B.weight', 'lora_unet_middle_block_2_in_layers_2.lora_up.weight'],
    [
      'unet.up_blocks.2.resnets.2.conv_shortcut.lora_A.weight',
      'lora_unet_output_blocks_8_0_skip_connection.lora_down.weight',
    ],
    [
      'text_encoder.encoder.layers.11.self_attn.out_proj.lora_A.weight',
      'lora_te1_text_model_encoder_layers_11_self_attn_out_proj.lora_down.weight',
    ],
    [
      'text_encoder_2.text_model.encoder.layers.31.mlp.fc2.lora_B.weight',
      'lora_te2_text_model_encoder_layers_31_mlp_fc2.lora_up.weight',
    ],
  ])('%s', (key, kohya) => {
    expect(peftKeyToKohya(key, 'sdxl')).toBe(kohya);
  });

  it('gives every key of a tiny SDXL-layout UNet the LDM name that diffusers loads back to the same module', () => {
    // make_fixtures.py checked each LDM name by loading it with StableDiffusionXLPipeline.lora_state_dict.
    const pairs = oraclePairs('sdxl-ldm-oracle.json');
    expect(pairs.length).toBeGreaterThan(600);
    expect(pairs.map(([key]) => [key, peftKeyToKohya(key, 'sdxl')])).toEqual(pairs);
  });

  it('puts the upsamplers of up blocks 0 and 1 after their attentions, and knows block 2 has none', () => {
    expect(sdxlLdmPath('up_blocks.1.upsamplers.0.conv')).toBe('output_blocks.5.2.conv');
    expect(() => sdxlLdmPath('up_blocks.2.upsamplers.0.conv')).toThrow(LoraFileError);
  });

  it('uses layersPerBlock for the block stride', () => {
    expect(sdxlLdmPath('down_blocks.1.attentions.0.proj_in', 1)).toBe('input_blocks.3.1.proj_in');
    expect(sdxlLdmPath('up_blocks.1.resnets.1.conv1', 1)).toBe('output_blocks.3.0.in_layers.2');
  });
});

describe('peftKeyToKohya on keys it cannot map', () => {
  const failure = (key: string, family: 'sd1' | 'sdxl') => {
    try {
      peftKeyToKohya(key, family);
    } catch (error) {
      if (error instanceof LoraFileError) return [error.code, error.line];
      throw error;
    }
    throw new Error(`${key} was mapped`);
  };

  it.each([
    [
      'vae.encoder.conv_in.lora_A.weight',
      'sd1',
      'not a LoRA weight key (expected `unet.`, `text_encoder.` or `text_encoder_2.` … `.lora_A.weight` / `.lora_B.weight`)',
    ],
    [
      'unet.down_blocks.0.attentions.0.proj_in.lora_magnitude_vector',
      'sd1',
      'not a LoRA weight key (expected `unet.`, `text_encoder.` or `text_encoder_2.` … `.lora_A.weight` / `.lora_B.weight`)',
    ],
    [
      'unet.lora_A.weight',
      'sd1',
      'not a LoRA weight key (expected `unet.`, `text_encoder.` or `text_encoder_2.` … `.lora_A.weight` / `.lora_B.weight`)',
    ],
    ['unet.base_model.model.conv_in.lora_A.weight', 'sd1', 'not a module of a Stable Diffusion UNet'],
    [
      'text_encoder_2.text_model.encoder.layers.0.mlp.fc1.lora_A.weight',
      'sd1',
      "a second text encoder's layer, but SD1 has one text encoder",
    ],
    [
      'text_encoder_2.text_projection.lora_A.weight',
      'sdxl',
      'not inside the CLIP text model (expected `text_model.…` or `encoder.…` after the component)',
    ],
    ['unet.down_blocks.0.attentions.0.proj_in.lora_A.weight', 'sdxl', 'not a module of an SDXL UNet'],
    ['unet.down_blocks.2.downsamplers.0.conv.lora_A.weight', 'sdxl', 'not a module of an SDXL UNet'],
    ['unet.down_blocks.1.resnets.2.conv1.lora_A.weight', 'sdxl', 'not a module of an SDXL UNet'],
    [
      'unet.down_blocks.1.resnets.0.norm1.lora_A.weight',
      'sdxl',
      'not a LoRA-adaptable layer of a ResNet block (conv1, conv2, time_emb_proj, conv_shortcut)',
    ],
  ] as const)('%s (%s)', (key, family, message) => {
    expect(failure(key, family)).toEqual(['unknown_key', `${key}: ${message}`]);
  });
});

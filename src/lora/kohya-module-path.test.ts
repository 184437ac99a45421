// kohya name → diffusers module: every pair of both oracles read backwards, and names that must be refused.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { kohyaModulePath, ldmToDiffusersPath } from './kohya-module-path.js';
import { LoraFileError } from './lora-file-error.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);
const oraclePairs = (name: string) =>
  (JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8')) as { pairs: Array<[string, string]> }).pairs;

/** `unet.X.lora_A.weight`, `lora_unet_Y.lora_down.weight` → [`unet`, `X`, `lora_unet_Y`]. */
function moduleOf([peft, kohya]: [string, string]): [string, string, string] {
  const [component = '', ...rest] = peft.replace(/\.lora_[AB]\.weight$/, '').split('.');
  const path = rest.join('.');
  return [
    component,
    component === 'unet' || path.startsWith('text_model.') ? path : `text_model.${path}`,
    kohya.replace(/\.lora_(down|up)\.weight$/, ''),
  ];
}

describe('kohyaModulePath', () => {
  it.each(['sd1-kohya-oracle.json', 'sdxl-ldm-oracle.json'])(
    'reads every name of %s back to its diffusers module',
    (oracle) => {
      const modules = oraclePairs(oracle).map(moduleOf);
      expect(modules.length).toBeGreaterThan(200);
      for (const [component, path, name] of modules) {
        expect({ name, ...kohyaModulePath(name) }).toMatchObject({ name, component, path });
      }
    },
  );

  it.each([
    [
      'lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q',
      'unet',
      'down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q',
      'ldm',
    ],
    ['lora_unet_output_blocks_2_2_conv', 'unet', 'up_blocks.0.upsamplers.0.conv', 'ldm'],
    ['lora_unet_input_blocks_3_0_op', 'unet', 'down_blocks.0.downsamplers.0.conv', 'ldm'],
    ['lora_unet_middle_block_2_emb_layers_1', 'unet', 'mid_block.resnets.1.time_emb_proj', 'ldm'],
    [
      'lora_unet_up_blocks_3_attentions_2_transformer_blocks_0_attn2_to_out_0',
      'unet',
      'up_blocks.3.attentions.2.transformer_blocks.0.attn2.to_out.0',
      'diffusers',
    ],
    ['lora_unet_down_blocks_0_resnets_1_time_emb_proj', 'unet', 'down_blocks.0.resnets.1.time_emb_proj', 'diffusers'],
    ['lora_unet_time_embedding_linear_1', 'unet', 'time_embedding.linear_1', 'diffusers'],
    [
      'lora_te_text_model_encoder_layers_22_self_attn_out_proj',
      'text_encoder',
      'text_model.encoder.layers.22.self_attn.out_proj',
      undefined,
    ],
    ['lora_te1_text_model_encoder_layers_0_mlp_fc1', 'text_encoder', 'text_model.encoder.layers.0.mlp.fc1', undefined],
    [
      'lora_te2_text_model_encoder_layers_31_mlp_fc2',
      'text_encoder_2',
      'text_model.encoder.layers.31.mlp.fc2',
      undefined,
    ],
  ])('%s', (name, component, path, unetLayout) => {
    expect(kohyaModulePath(name)).toEqual({ component, path, ...(unetLayout ? { unetLayout } : {}) });
  });

  it.each([
    [
      'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_qq',
      'module `lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_qq` is not a LoRA layer of an SD 1.x, SD 2.x or SDXL UNet',
    ],
    [
      'lora_unet_input_blocks_1_1_proj_in',
      'module `lora_unet_input_blocks_1_1_proj_in` is not a LoRA layer of an SDXL UNet',
    ],
    [
      'lora_unet_output_blocks_8_1_conv',
      'module `lora_unet_output_blocks_8_1_conv` is not a LoRA layer of an SDXL UNet',
    ],
    [
      'lora_te_text_model_embeddings_token_embedding',
      'module `lora_te_text_model_embeddings_token_embedding` is not a LoRA layer of a CLIP text encoder (q/k/v/out_proj, mlp.fc1/fc2)',
    ],
    [
      'lora_transformer_single_blocks_0_attn_to_q',
      'module `lora_transformer_single_blocks_0_attn_to_q` does not start with `lora_unet_`, `lora_te_`, `lora_te1_` or `lora_te2_`',
    ],
  ])('refuses %s', (name, message) => {
    const error = (() => {
      try {
        kohyaModulePath(name);
      } catch (caught) {
        return caught;
      }
    })();
    expect(error).toBeInstanceOf(LoraFileError);
    expect(error).toMatchObject({ code: 'unknown_module', culprit: name, line: `${name}: ${message}` });
  });

  it('inverts sdxlLdmPath for the fixed names', () => {
    expect(['input_blocks.0.0', 'out.2', 'time_embed.2', 'label_emb.0.0'].map((p) => ldmToDiffusersPath(p))).toEqual([
      'conv_in',
      'conv_out',
      'time_embedding.linear_2',
      'add_embedding.linear_1',
    ]);
  });
});

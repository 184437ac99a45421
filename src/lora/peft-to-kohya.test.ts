// The conversion core on small in-memory PEFT files: grouping, alphas, shared bytes, and every refusal.
import { describe, expect, it } from 'vitest';
import { LoraFileError } from './lora-file-error.js';
import { peftToKohya, type PeftToKohyaOptions } from './peft-to-kohya.js';
import { tensorSizeBytes, type Dtype, type SafetensorsContent, type Tensor } from './safetensors.js';

const Q = 'unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q';
const TE = 'text_encoder.encoder.layers.0.self_attn.q_proj';

function tensor(shape: number[], dtype: Dtype = 'F16'): Tensor {
  const data = new Uint8Array(Number(tensorSizeBytes(dtype, shape)));
  for (let i = 0; i < data.length; i++) data[i] = i % 256;
  return { dtype, shape, data };
}

function file(tensors: Record<string, Tensor>, adapter?: Record<string, unknown>): SafetensorsContent {
  const metadata: Record<string, string> = { format: 'pt' };
  if (adapter) metadata.lora_adapter_metadata = JSON.stringify(adapter);
  return { metadata, tensors: new Map(Object.entries(tensors)) };
}

const sd1: PeftToKohyaOptions = { family: 'sd1', fileName: 'out/pytorch_lora_weights.safetensors' };

function failure(content: SafetensorsContent, options = sd1): [string, string] {
  try {
    peftToKohya(content, options);
  } catch (error) {
    if (error instanceof LoraFileError) return [error.code, error.line];
    throw error;
  }
  throw new Error('converted');
}

const alphaOf = (t: Tensor | undefined) => new DataView(t!.data.buffer, t!.data.byteOffset).getFloat32(0, true);

describe('peftToKohya', () => {
  it('writes three tensors per module, sharing the weight tensors and taking alpha from the config', () => {
    const down = tensor([4, 320]);
    const up = tensor([320, 4]);
    const result = peftToKohya(
      file(
        {
          [`${Q}.lora_A.weight`]: down,
          [`${Q}.lora_B.weight`]: up,
          [`${TE}.lora_A.weight`]: tensor([2, 768]),
          [`${TE}.lora_B.weight`]: tensor([768, 2]),
        },
        { 'unet.r': 4, 'unet.lora_alpha': 8 },
      ),
      sd1,
    );
    const name = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
    expect([...result.tensors.keys()].sort()).toEqual(
      [
        `${name}.alpha`,
        `${name}.lora_down.weight`,
        `${name}.lora_up.weight`,
        'lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha',
        'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight',
        'lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_up.weight',
      ].sort(),
    );
    expect(result.tensors.get(`${name}.lora_down.weight`)).toBe(down);
    expect(result.tensors.get(`${name}.lora_up.weight`)).toBe(up);
    expect(alphaOf(result.tensors.get(`${name}.alpha`))).toBe(8);
    // The file has no text_encoder config: diffusers would load it with alpha = rank, and so do we.
    expect(alphaOf(result.tensors.get('lora_te_text_model_encoder_layers_0_self_attn_q_proj.alpha'))).toBe(2);
    expect(result.alphaSources).toEqual({ unet: 'lora_adapter_metadata', text_encoder: 'rank' });
    expect(result.modules).toContainEqual({ name, component: 'unet', rank: 4, alpha: 8 });
  });

  it('accepts 1×1 and k×k conv LoRA pairs and the "diffusers new" key spellings', () => {
    const conv = 'unet.down_blocks.0.resnets.0.conv1';
    const result = peftToKohya(
      file({
        [`${conv}.lora_A.weight`]: tensor([4, 32, 3, 3], 'BF16'),
        [`${conv}.lora_B.weight`]: tensor([32, 4, 1, 1], 'BF16'),
        [`${Q}.lora.down.weight`]: tensor([4, 32], 'F32'),
        [`${Q}.lora.up.weight`]: tensor([32, 4], 'F32'),
      }),
      sd1,
    );
    expect(result.modules.map((m) => [m.name, m.rank])).toEqual([
      ['lora_unet_down_blocks_0_resnets_0_conv1', 4],
      ['lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q', 4],
    ]);
    expect(result.tensors.get('lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight')?.dtype).toBe('BF16');
  });

  it('writes alpha in the dtype asked for', () => {
    const result = peftToKohya(
      file({ [`${Q}.lora_A.weight`]: tensor([4, 8]), [`${Q}.lora_B.weight`]: tensor([8, 4]) }),
      { ...sd1, alphaDtype: 'F16' },
    );
    expect(result.tensors.get('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q.alpha')).toEqual({
      dtype: 'F16',
      shape: [],
      data: Uint8Array.from([0x00, 0x44]),
    });
  });
});

describe('peftToKohya refuses', () => {
  const pair = { [`${Q}.lora_A.weight`]: tensor([4, 8]), [`${Q}.lora_B.weight`]: tensor([8, 4]) };
  const file_ = 'out/pytorch_lora_weights.safetensors';

  it('a module without its lora_B', () => {
    expect(failure(file({ [`${Q}.lora_A.weight`]: tensor([4, 8]) }))).toEqual([
      'incomplete_module',
      `${file_}: \`${Q}.lora_A.weight\` (lora_A) has no matching lora_B`,
    ]);
  });

  it('a rank that disagrees with the saved config', () => {
    expect(failure(file(pair, { 'unet.r': 8, 'unet.lora_alpha': 8 }))).toEqual([
      'rank_mismatch',
      `${file_}: \`${Q}.lora_A.weight\` has rank 4 but \`lora_adapter_metadata\` says 8`,
    ]);
  });

  it('shapes that are not a LoRA pair, and non-float weights', () => {
    expect(failure(file({ ...pair, [`${Q}.lora_B.weight`]: tensor([8, 3]) }))[0]).toBe('lora_shape_mismatch');
    expect(failure(file({ ...pair, [`${Q}.lora_B.weight`]: tensor([8, 4, 3, 3]) }))[0]).toBe('lora_shape_mismatch');
    expect(failure(file({ ...pair, [`${Q}.lora_A.weight`]: tensor([4, 8], 'I8') }))).toEqual([
      'unsupported_dtype',
      `${file_}: \`${Q}.lora_A.weight\` is I8; LoRA weights must be F32, F16 or BF16`,
    ]);
  });

  it('two keys that become the same kohya tensor', () => {
    const flat = 'text_encoder.encoder.layers.0.mlp.fc1';
    const wrapped = 'text_encoder.text_model.encoder.layers.0.mlp.fc1';
    const [code, line] = failure(
      file({ [`${flat}.lora_A.weight`]: tensor([2, 8]), [`${wrapped}.lora_A.weight`]: tensor([2, 8]) }),
    );
    expect([code, line]).toEqual([
      'duplicate_module',
      `${file_}: keys \`${flat}.lora_A.weight\` and \`${wrapped}.lora_A.weight\` are the same kohya tensor \`lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight\``,
    ]);
  });

  it('unknown keys, naming the file and the key, and says when a file is already kohya', () => {
    expect(failure(file({ ...pair, 'unet.conv_in.weight': tensor([4]) }))).toEqual([
      'unknown_key',
      `${file_}: key \`unet.conv_in.weight\`: not a LoRA weight key (expected \`unet.\`, \`text_encoder.\` or \`text_encoder_2.\` … \`.lora_A.weight\` / \`.lora_B.weight\`)`,
    ]);
    const kohya = file({ 'lora_unet_x.lora_down.weight': tensor([4, 8]) });
    expect(() => peftToKohya(kohya, sd1)).toThrow(
      expect.objectContaining({ hint: 'this file already has kohya keys; it needs no conversion' }),
    );
  });

  it('an empty file', () => {
    expect(failure(file({}))).toEqual(['no_lora_tensors', `${file_}: holds no LoRA tensors`]);
  });
});

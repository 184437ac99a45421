// inspectLora on headers written by hand: each format and LyCORIS variant named, families told apart by names and
// shapes, alphas from tensors or lora_adapter_metadata, and the ss_* summary.
import { describe, expect, it } from 'vitest';
import { inspectLora, type InspectInput } from './inspect.js';
import type { Dtype, TensorInfo } from './safetensors.js';

type Shapes = Record<string, number[]>;

function input(
  shapes: Shapes,
  metadata: Record<string, string> = {},
  alphas: Record<string, number> = {},
  dtype: Dtype = 'F16',
): InspectInput {
  const tensors = new Map<string, TensorInfo>(
    Object.entries(shapes).map(([name, shape]) => [name, { dtype, shape, dataOffsets: [0, 0] }]),
  );
  return { fileName: 'x.safetensors', sizeBytes: 1234, metadata, tensors, alphas: new Map(Object.entries(alphas)) };
}

/** A kohya module: down/up (+ alpha) with the given in/out widths. */
const kohya = (name: string, rank: number, inWidth: number, outWidth: number, conv = false): Shapes => ({
  [`${name}.lora_down.weight`]: conv ? [rank, inWidth, 3, 3] : [rank, inWidth],
  [`${name}.lora_up.weight`]: conv ? [outWidth, rank, 1, 1] : [outWidth, rank],
  [`${name}.alpha`]: [],
});

const lycoris = (name: string, parts: string[]): Shapes =>
  Object.fromEntries(parts.map((p) => [`${name}.${p}`, p === 'alpha' ? [] : [8, 8]]));

describe('inspectLora: format', () => {
  it.each([
    ['kohya LoRA', kohya('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', 8, 768, 320), {}],
    [
      'kohya LoCon',
      {
        ...kohya('lora_unet_down_blocks_0_resnets_0_conv1', 4, 320, 320, true),
        ...kohya('lora_unet_down_blocks_0_attentions_0_proj_in', 8, 320, 320),
      },
      {},
    ],
    [
      'lycoris LoCon',
      kohya('lora_unet_down_blocks_0_resnets_0_conv1', 4, 320, 320, true),
      { ss_network_module: 'lycoris.kohya' },
    ],
    [
      'lycoris LoHa',
      lycoris('lora_unet_down_blocks_0_attentions_0_proj_in', [
        'hada_w1_a',
        'hada_w1_b',
        'hada_w2_a',
        'hada_w2_b',
        'alpha',
      ]),
      {},
    ],
    [
      'lycoris LoKr',
      lycoris('lora_unet_down_blocks_0_attentions_0_proj_in', ['lokr_w1', 'lokr_w2_a', 'lokr_w2_b', 'alpha']),
      {},
    ],
    ['lycoris (IA)³', lycoris('lora_unet_down_blocks_0_attentions_0_proj_in', ['weight', 'on_input']), {}],
    [
      'lycoris LoRA+DoRA',
      {
        ...kohya('lora_te_text_model_encoder_layers_0_mlp_fc1', 4, 768, 3072),
        'lora_te_text_model_encoder_layers_0_mlp_fc1.dora_scale': [1, 768],
      },
      {},
    ],
    [
      'diffusers peft',
      {
        'unet.mid_block.attentions.0.proj_in.lora_A.weight': [4, 32],
        'unet.mid_block.attentions.0.proj_in.lora_B.weight': [32, 4],
      },
      {},
    ],
    [
      'diffusers lora.down',
      {
        'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora.down.weight': [4, 32],
        'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q.lora.up.weight': [32, 4],
      },
      {},
    ],
    [
      'diffusers attn processors',
      {
        'unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.down.weight': [4, 32],
        'unet.mid_block.attentions.0.transformer_blocks.0.attn1.processor.to_q_lora.up.weight': [32, 4],
      },
      {},
    ],
    [
      'comfyui LoRA',
      {
        'diffusion_model.input_blocks.4.1.proj_in.lora_down.weight': [4, 640],
        'diffusion_model.input_blocks.4.1.proj_in.lora_up.weight': [640, 4],
      },
      {},
    ],
    [
      'lycoris LoKr (SimpleTuner names)',
      lycoris('lycoris_down_blocks_1_attentions_0_proj_in', ['lokr_w1', 'lokr_w2']),
      {},
    ],
    [
      'checkpoint single-file model, not a LoRA',
      { 'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3] },
      {},
    ],
    ['peft-adapter PEFT save_pretrained', { 'base_model.model.q_proj.lora_A.weight': [4, 32] }, {}],
  ])('%s', (label, shapes, metadata) => {
    const { format } = inspectLora(input(shapes, metadata));
    expect(`${format.name} ${format.variant}`).toBe(label);
  });
});

describe('inspectLora: family', () => {
  it.each([
    [
      'sdxl',
      'second text encoder (`lora_te2_` / `text_encoder_2.`)',
      kohya('lora_te2_text_model_encoder_layers_0_mlp_fc1', 4, 1280, 5120),
    ],
    [
      'sdxl',
      "sd-scripts' SDXL UNet names (`input_blocks_…`)",
      kohya('lora_unet_input_blocks_4_1_proj_in', 4, 640, 640),
    ],
    [
      'sdxl',
      'several transformer blocks per attention (SDXL UNet)',
      kohya('lora_unet_down_blocks_2_attentions_1_transformer_blocks_9_ff_net_2', 4, 5120, 1280),
    ],
    [
      'sdxl',
      'cross-attention width 2048',
      {
        'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight': [4, 2048],
        'unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight': [640, 4],
      },
    ],
    [
      'sd1',
      'cross-attention width 768',
      kohya('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k', 8, 768, 320),
    ],
    // LDM names are not SDXL's when the widths or the block layout say otherwise.
    [
      'sd1',
      'cross-attention width 768',
      kohya('lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k', 8, 768, 640),
    ],
    [
      'sd1-or-sd2',
      'SD 1.x/2.x block layout, with no width or metadata telling which',
      kohya('lora_unet_output_blocks_11_1_proj_out', 4, 32, 32),
    ],
    [
      'sd2',
      'cross-attention width 1024',
      kohya('lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_v', 8, 1024, 320),
    ],
    ['sd1', 'text encoder width 768', kohya('lora_te_text_model_encoder_layers_0_self_attn_q_proj', 8, 768, 768)],
    ['sd2', 'text encoder width 1024', kohya('lora_te_text_model_encoder_layers_0_self_attn_q_proj', 8, 1024, 1024)],
    [
      'sd2',
      'text encoder with 23 layers (OpenCLIP-H)',
      kohya('lora_te_text_model_encoder_layers_22_mlp_fc2', 8, 64, 32),
    ],
    [
      'sd1',
      '1×1-conv proj_in (SD 1.x UNet)',
      {
        'unet.down_blocks.0.attentions.0.proj_in.lora_A.weight': [4, 32, 1, 1],
        'unet.down_blocks.0.attentions.0.proj_in.lora_B.weight': [32, 4, 1, 1],
      },
    ],
    [
      'sd1-or-sd2',
      'SD 1.x/2.x block layout, with no width or metadata telling which',
      kohya('lora_unet_up_blocks_3_attentions_0_transformer_blocks_0_attn1_to_q', 4, 32, 32),
    ],
    ['sdxl', 'metadata `ss_base_model_version`', kohya('lora_te1_text_model_encoder_layers_0_mlp_fc1', 4, 32, 64)],
    [
      null,
      'no telling layer names, widths or metadata',
      kohya('lora_te_text_model_encoder_layers_0_mlp_fc1', 4, 32, 64),
    ],
  ])('%s from %s', (family, basis, shapes) => {
    const metadata: Record<string, string> = basis.startsWith('metadata')
      ? { ss_base_model_version: 'sdxl_base_v1-0' }
      : {};
    expect(inspectLora(input(shapes, metadata)).family).toMatchObject({ name: family, basis });
  });

  it('reports what the metadata claims beside what the layers show', () => {
    const report = inspectLora(
      input(kohya('lora_te2_text_model_encoder_layers_0_mlp_fc1', 4, 1280, 5120), { ss_base_model_version: 'sd_v1' }),
    );
    expect(report.family).toEqual({
      name: 'sdxl',
      basis: 'second text encoder (`lora_te2_` / `text_encoder_2.`)',
      metadataSays: 'sd1',
    });
  });
});

describe('inspectLora: ranks, alphas, layers', () => {
  it('counts distinct ranks and alphas per layer and says where alphas came from', () => {
    const shapes = {
      ...kohya('lora_unet_a_proj_in', 8, 32, 32),
      ...kohya('lora_unet_b_proj_in', 8, 32, 32),
      ...kohya('lora_te_c_q_proj', 4, 32, 32),
      ...kohya('lora_te_d_q_proj', 4, 32, 32),
    };
    delete shapes['lora_te_d_q_proj.alpha'];
    const report = inspectLora(
      input(
        shapes,
        {},
        { 'lora_unet_a_proj_in.alpha': 4, 'lora_unet_b_proj_in.alpha': 4, 'lora_te_c_q_proj.alpha': 1 },
      ),
    );
    expect(report.layers).toEqual({ total: 4, unet: 2, textEncoder: 2, textEncoder2: 0 });
    expect(report.ranks).toEqual(
      [
        { value: 8, count: 2 },
        { value: 4, count: 2 },
      ].sort((a, b) => a.value - b.value),
    );
    expect(report.alphas).toEqual([
      { value: 4, count: 3 },
      { value: 1, count: 1 },
    ]);
    expect(report.modules.find((m) => m.name === 'lora_te_d_q_proj')).toMatchObject({
      rank: 4,
      alpha: 4,
      alphaSource: 'rank',
    });
  });

  it('counts the layers of ComfyUI-native and SimpleTuner LyCORIS names by their part', () => {
    const comfy = inspectLora(
      input({
        ...lycoris('diffusion_model.input_blocks.4.1.proj_in', ['lora_down.weight', 'lora_up.weight']),
        ...lycoris('text_encoders.clip_g.transformer.text_model.encoder.layers.0.mlp.fc1', [
          'lora_down.weight',
          'lora_up.weight',
        ]),
      }),
    );
    expect(comfy.layers).toEqual({ total: 2, unet: 1, textEncoder: 0, textEncoder2: 1 });
    expect(comfy.family.name).toBe('sdxl');
  });

  it('takes diffusers alphas from lora_adapter_metadata, patterns included', () => {
    const q = 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_q';
    const k = 'unet.mid_block.attentions.0.transformer_blocks.0.attn1.to_k';
    const shapes = {
      [`${q}.lora_A.weight`]: [4, 32],
      [`${q}.lora_B.weight`]: [32, 4],
      [`${k}.lora_A.weight`]: [2, 32],
      [`${k}.lora_B.weight`]: [32, 2],
    };
    const adapter = JSON.stringify({
      'unet.r': 4,
      'unet.lora_alpha': 8,
      'unet.rank_pattern': { 'attn1.to_k': 2 },
      'unet.alpha_pattern': { 'attn1.to_k': 1 },
    });
    const report = inspectLora(input(shapes, { lora_adapter_metadata: adapter }));
    expect(report.modules.map((m) => [m.name, m.rank, m.alpha, m.alphaSource])).toEqual([
      [k, 2, 1, 'lora_adapter_metadata'],
      [q, 4, 8, 'lora_adapter_metadata'],
    ]);
  });

  it('warns about keys that fit no module and a broken adapter config instead of failing', () => {
    const report = inspectLora(
      input({ ...kohya('lora_unet_a_proj_in', 8, 32, 32), 'lora_unet_a_proj_in.bias_extra': [3] }),
    );
    expect(report.problems).toEqual(['1 keys fit no LoRA module (first: `lora_unet_a_proj_in.bias_extra`)']);
    const broken = inspectLora(
      input({ 'unet.a.lora_A.weight': [4, 32], 'unet.a.lora_B.weight': [32, 4] }, { lora_adapter_metadata: '{' }),
    );
    expect(broken.problems).toEqual(['`lora_adapter_metadata` is not JSON']);
  });
});

describe('inspectLora: training metadata and hashes', () => {
  it('summarises ss_* values and merges tag counts over folders', () => {
    const metadata = {
      ss_output_name: 'mychar',
      ss_sd_model_name: 'v1-5.safetensors',
      ss_base_model_version: 'sd_v1',
      ss_new_sd_model_hash: '6ce0161689b3853acaa03779ec93eafe75a02f4ced659bee03f50797806fa2fa',
      ss_steps: '500',
      ss_max_train_steps: '600',
      ss_epoch: '5',
      ss_num_epochs: '6',
      ss_resolution: '(512, 512)',
      ss_learning_rate: '0.0001',
      ss_text_encoder_lr: 'None',
      ss_network_args: '{"conv_dim": "8"}',
      ss_dataset_dirs: '{"10_mychar": {"n_repeats": 10, "img_count": 25}}',
      ss_tag_frequency: '{"10_mychar": {"1girl": 25, "smile": 12}, "5_extra": {"smile": 20, "hat": 1}}',
      ss_training_started_at: '1717171717.5',
    };
    const { training } = inspectLora(input(kohya('lora_unet_a_proj_in', 8, 32, 32), metadata));
    expect(training).toMatchObject({
      outputName: 'mychar',
      baseModel: { name: 'v1-5.safetensors', version: 'sd_v1', hash: '6ce0161689' },
      steps: 500,
      maxSteps: 600,
      epoch: 5,
      epochs: 6,
      resolution: '(512, 512)',
      learningRate: { base: '0.0001', unet: null, textEncoder: null },
      network: { args: { conv_dim: '8' } },
      datasets: [{ name: '10_mychar', images: 25, repeats: 10 }],
      distinctTags: 3,
      startedAt: '2024-05-31T16:08:37.500Z',
    });
    expect(training?.topTags).toEqual([
      { tag: 'smile', count: 32 },
      { tag: '1girl', count: 25 },
      { tag: 'hat', count: 1 },
    ]);
    expect(inspectLora(input(kohya('lora_unet_a_proj_in', 8, 32, 32))).training).toBeNull();
  });

  it('shows the stored sshs_model_hash as A1111 does, and warns when it does not match the data', () => {
    const hashes = { fileSha256: 'f'.repeat(64), addnetSha256: 'a'.repeat(64), legacyHash: '12345678' };
    const ok = inspectLora({
      ...input(kohya('lora_unet_a_proj_in', 8, 32, 32), { sshs_model_hash: 'a'.repeat(64) }),
      hashes,
    });
    expect(ok.hashes).toMatchObject({
      webuiLoraHash: 'aaaaaaaaaaaa',
      webuiModelHash: 'ffffffffff',
      storedModelHashMatches: true,
    });
    const wrong = inspectLora({
      ...input(kohya('lora_unet_a_proj_in', 8, 32, 32), { sshs_model_hash: 'b'.repeat(64) }),
      hashes,
    });
    expect(wrong.hashes).toMatchObject({ webuiLoraHash: 'bbbbbbbbbbbb', storedModelHashMatches: false });
    expect(wrong.problems).toEqual([
      '`sshs_model_hash` does not match the data: A1111 shows (and pastes infotext by) the stored, wrong hash',
    ]);
  });
});

// The verdict on hand-written headers and folder configs: every family, every kind of non-base file, every broken base.
import { describe, expect, it } from 'vitest';
import { ARCHITECTURE_METADATA_KEY, judgeDiffusersFolder, judgeSingleFile, type FolderFacts } from './verdict.js';

const UNET_KEY = 'model.diffusion_model.input_blocks.0.0.weight';
const VAE_KEY = 'first_stage_model.encoder.conv_in.weight';
const SD1_TE_KEY = 'cond_stage_model.transformer.text_model.embeddings.token_embedding.weight';
const SD2_TE_KEY = 'cond_stage_model.model.token_embedding.weight';
const SDXL_TE_KEYS = [
  'conditioner.embedders.0.transformer.text_model.final_layer_norm.weight',
  'conditioner.embedders.1.model.ln_final.weight',
];

function header(keys: readonly string[], metadata: Record<string, string> = {}, shapes: Record<string, number[]> = {}) {
  return { tensors: new Map(keys.map((key) => [key, { shape: shapes[key] ?? [320, 4, 3, 3] }])), metadata };
}

const architecture = (overrides: Record<string, unknown> = {}) =>
  JSON.stringify({
    family: 'sd1',
    prediction_type: 'epsilon',
    unet: { sample_size: 16 },
    vae: { block_out_channels: [32, 64, 64] },
    text_encoder: {},
    scheduler: {},
    ...overrides,
  });

describe('judgeSingleFile: base models', () => {
  it.each([
    ['sd1', [UNET_KEY, VAE_KEY, SD1_TE_KEY], 'epsilon', 512],
    ['sd2', [UNET_KEY, VAE_KEY, SD2_TE_KEY], null, null], // 512 (base) or 768 (v): the engine's forward pass tells
    ['sdxl', [UNET_KEY, VAE_KEY, ...SDXL_TE_KEYS], 'epsilon', 1024],
  ])(
    '%s by its text-encoder layout, with what the header alone tells',
    (family, keys, predictionType, nativeSizePx) => {
      expect(judgeSingleFile(header(keys))).toEqual({
        kind: 'base',
        layout: 'single-file',
        family,
        predictionType,
        nativeSizePx,
        architecture: null,
        problem: null,
      });
    },
  );

  it("takes ComfyUI's `v_pred` marker as v-prediction", () => {
    expect(judgeSingleFile(header([UNET_KEY, VAE_KEY, SD2_TE_KEY, 'v_pred'])).predictionType).toBe('v_prediction');
  });

  it('reads prediction type and native size from the lora_scripts.architecture metadata', () => {
    const verdict = judgeSingleFile(
      header([UNET_KEY, VAE_KEY, SD1_TE_KEY], {
        [ARCHITECTURE_METADATA_KEY]: architecture({ prediction_type: 'v_prediction' }),
      }),
    );
    expect(verdict).toMatchObject({
      kind: 'base',
      family: 'sd1',
      predictionType: 'v_prediction',
      nativeSizePx: 64,
      problem: null,
    });
    expect(verdict.architecture?.unet).toEqual({ sample_size: 16 });
  });
});

describe('judgeSingleFile: files that are not base models', () => {
  it.each([
    [
      'lora',
      [
        'lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight',
        'lora_unet_down_blocks_0_attentions_0_proj_in.alpha',
      ],
      'this is a LoRA, not a base model (all its keys start with `lora_`)',
    ],
    [
      'lora',
      ['unet.down_blocks.0.attentions.0.proj_in.lora_A.weight'],
      'this is a LoRA, not a base model (it holds LoRA factors such as `unet.down_blocks.0.attentions.0.proj_in.lora_A.weight`)',
    ],
    [
      'lora',
      ['lycoris_down_blocks_0_attentions_0_proj_in.hada_w1_a'],
      'this is a LoRA, not a base model (it holds LoRA factors such as `lycoris_down_blocks_0_attentions_0_proj_in.hada_w1_a`)',
    ],
    [
      'vae',
      ['encoder.conv_in.weight', 'decoder.conv_out.weight', 'quant_conv.weight'],
      'this is a VAE alone, not a base model',
    ],
    ['vae', [VAE_KEY], 'this is a VAE alone, not a base model'],
    [
      'text-encoder',
      ['text_model.encoder.layers.0.mlp.fc1.weight', 'text_model.final_layer_norm.weight'],
      'this is a text encoder alone, not a base model',
    ],
    ['text-encoder', [SD1_TE_KEY], 'this is a text encoder alone, not a base model'],
    ['embedding', ['emb_params'], 'this is a textual-inversion embedding, not a base model'],
    [
      'unknown',
      ['down_blocks.0.resnets.0.conv1.weight'],
      'holds diffusers-layout UNet weights, not a single-file checkpoint (give the whole diffusers folder instead)',
    ],
    ['unknown', ['weight'], 'does not look like a Stable Diffusion checkpoint (no `model.diffusion_model.*` weights)'],
  ])('%s: %j', (kind, keys, message) => {
    const verdict = judgeSingleFile(header(keys));
    expect(verdict.kind).toBe(kind);
    expect(verdict.family).toBeNull();
    expect(verdict.problem?.message).toBe(message);
  });

  it.each([
    [
      { [UNET_KEY]: [320, 9, 3, 3], [VAE_KEY]: [1], [SD1_TE_KEY]: [1] },
      'base_model_unrecognized',
      'has a UNet with 9 input channels (an inpainting or instruct-pix2pix model), not a text-to-image base model',
    ],
    [
      { [UNET_KEY]: [320, 4, 3, 3], [VAE_KEY]: [1], 'conditioner.embedders.0.model.ln_final.weight': [1] },
      'base_model_unrecognized',
      'is an SDXL refiner, which cannot be trained on as a base model',
    ],
    [
      { [UNET_KEY]: [320, 4, 3, 3], [SD1_TE_KEY]: [1] },
      'base_model_incomplete',
      'has no `first_stage_model.*` weights',
    ],
    [
      { [UNET_KEY]: [320, 4, 3, 3], [VAE_KEY]: [1], [SDXL_TE_KEYS[1]!]: [1] },
      'base_model_incomplete',
      'has no `conditioner.embedders.0.transformer.*` weights',
    ],
    [
      { [UNET_KEY]: [320, 4, 3, 3], [VAE_KEY]: [1] },
      'base_model_incomplete',
      'has UNet weights but no text encoder weights',
    ],
  ])('a base model that cannot be trained on: %j', (shapes, code, message) => {
    const verdict = judgeSingleFile(header(Object.keys(shapes), {}, shapes));
    expect(verdict.kind).toBe('base');
    expect(verdict.problem).toMatchObject({ code, message });
  });

  it.each([
    ['{', 'its `lora_scripts.architecture` metadata is not valid JSON'],
    [
      JSON.stringify({ family: 'sd1' }),
      'its `lora_scripts.architecture` metadata lacks `prediction_type`, `unet`, `vae`, `text_encoder`, `scheduler`',
    ],
    [
      architecture({ family: 'sdxl' }),
      'its `lora_scripts.architecture` metadata says sdxl/epsilon but the weights have the sd1 layout',
    ],
  ])('metadata that contradicts or breaks: %s', (raw, message) => {
    const verdict = judgeSingleFile(header([UNET_KEY, VAE_KEY, SD1_TE_KEY], { [ARCHITECTURE_METADATA_KEY]: raw }));
    expect(verdict.problem).toMatchObject({ code: 'base_model_corrupt', message });
  });
});

describe('judgeDiffusersFolder', () => {
  const folder = (overrides: Partial<FolderFacts>): FolderFacts => ({
    modelIndex: { _class_name: 'StableDiffusionPipeline' },
    unet: { sample_size: 64, in_channels: 4 },
    vae: { block_out_channels: [128, 256, 512, 512] },
    textEncoder: { hidden_act: 'quick_gelu' },
    scheduler: { prediction_type: 'epsilon' },
    component: null,
    ...overrides,
  });

  it.each([
    ['sd1', folder({}), 'epsilon', 512],
    [
      'sd2',
      folder({
        textEncoder: { hidden_act: 'gelu' },
        unet: { sample_size: 96 },
        scheduler: { prediction_type: 'v_prediction' },
      }),
      'v_prediction',
      768,
    ],
    [
      'sdxl',
      folder({ modelIndex: { _class_name: 'StableDiffusionXLPipeline' }, unet: { sample_size: 128 } }),
      'epsilon',
      1024,
    ],
  ])('%s with its scheduler prediction type and native size', (family, facts, predictionType, nativeSizePx) => {
    expect(judgeDiffusersFolder(facts)).toEqual({
      kind: 'base',
      layout: 'diffusers-folder',
      family,
      predictionType,
      nativeSizePx,
      architecture: null,
      problem: null,
    });
  });

  it('names folders that are not base models', () => {
    expect(
      judgeDiffusersFolder(folder({ modelIndex: null, component: { _class_name: 'AutoencoderKL' } })),
    ).toMatchObject({ kind: 'vae', problem: { message: 'this is a VAE folder, not a base model' } });
    expect(
      judgeDiffusersFolder(folder({ modelIndex: null, component: { architectures: ['CLIPTextModel'] } })).kind,
    ).toBe('text-encoder');
    expect(judgeDiffusersFolder(folder({ modelIndex: null })).problem?.message).toBe(
      'has no `model_index.json`, so it is not a diffusers model folder',
    );
    expect(judgeDiffusersFolder(folder({ modelIndex: { _class_name: 'KandinskyPipeline' } })).problem?.message).toBe(
      'is a `KandinskyPipeline`; only StableDiffusionPipeline, StableDiffusionXLPipeline and FluxPipeline models are supported',
    );
    expect(judgeDiffusersFolder(folder({ unet: { in_channels: 9 } })).problem?.code).toBe('base_model_unrecognized');
  });
});

describe('Flux.1 bases', () => {
  // The tensors judgeSingleFile reads in Black Forest Labs' layout (flux1-dev.safetensors); shapes do not matter.
  const BFL_KEYS = [
    'img_in.weight',
    'double_blocks.0.img_attn.norm.key_norm.scale',
    'double_blocks.0.img_attn.qkv.weight',
    'single_blocks.0.linear1.weight',
  ];
  const GUIDANCE_KEY = 'guidance_in.in_layer.weight';
  const flux = (layout: string, fluxVariant: string) => ({
    kind: 'base',
    layout,
    family: 'flux',
    fluxVariant,
    predictionType: 'flow_matching',
    nativeSizePx: 1024,
    architecture: null,
    problem: null,
  });

  it.each([
    ['dev', '', [...BFL_KEYS, GUIDANCE_KEY]],
    ['schnell', '', BFL_KEYS],
    [
      'dev',
      "ComfyUI's `model.diffusion_model.` prefix",
      [...BFL_KEYS, GUIDANCE_KEY].map((k) => `model.diffusion_model.${k}`),
    ],
  ])('a BFL transformer file is Flux %s %s (guidance_in tells dev)', (variant, _prefix, keys) => {
    expect(judgeSingleFile(header(keys))).toEqual(flux('single-file', variant));
  });

  it('a file with only one of the two marker tensors is not taken for Flux', () => {
    expect(judgeSingleFile(header(['img_in.weight'])).family).toBeNull();
  });

  const fluxFolder = (transformer: Record<string, unknown> | null): FolderFacts => ({
    modelIndex: { _class_name: 'FluxPipeline' },
    unet: null,
    vae: { block_out_channels: [128, 256, 512, 512] },
    textEncoder: { hidden_act: 'quick_gelu' },
    scheduler: { _class_name: 'FlowMatchEulerDiscreteScheduler' },
    component: null,
    transformer,
  });

  it.each([
    ['dev', true],
    ['schnell', false],
  ])('a FluxPipeline folder is Flux %s by its transformer guidance embedding', (variant, guidance) => {
    expect(judgeDiffusersFolder(fluxFolder({ guidance_embeds: guidance }))).toEqual(flux('diffusers-folder', variant));
  });

  it('a Flux folder without a transformer is the components of a transformer file, not a base model', () => {
    expect(judgeDiffusersFolder(fluxFolder(null))).toMatchObject({
      kind: 'base',
      family: 'flux',
      problem: { code: 'base_model_incomplete', hint: expect.stringContaining('flux_components') },
    });
  });
});

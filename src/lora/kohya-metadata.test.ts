// The metadata map for a small SD1 run, key by key; the expected strings are what Python printed for the same values.
import { describe, expect, it } from 'vitest';
import {
  baseModelVersion,
  buildKohyaMetadata,
  kohyaMixedPrecision,
  kohyaOptimizer,
  localIsoDate,
  type KohyaMetadataInput,
} from './kohya-metadata.js';

const sd1Run: KohyaMetadataInput = {
  outputName: 'jiangnan',
  sessionId: 2718281828,
  trainingStartedAt: 1717171717.25,
  trainingFinishedAt: 1717175317.5,
  utcOffsetMinutes: 480,
  toolVersion: '0.1.0',
  family: 'sd1',
  predictionType: 'epsilon',
  baseModelName: 'v1-5-pruned-emaonly.safetensors',
  baseModelHash: 'e1441589',
  baseModelNewHash: null,
  networkDim: 16,
  networkAlpha: 16,
  networkDropout: null,
  learningRate: 1e-4,
  unetLr: 1e-4,
  textEncoderLr: null,
  optimizer: 'torch.optim.adamw.AdamW(weight_decay=0.01)',
  lrScheduler: 'cosine',
  lrWarmupSteps: 0,
  gradientAccumulationSteps: 2,
  maxGradNorm: 1,
  noiseOffset: null,
  mixedPrecision: 'fp16',
  seed: 42,
  numBatchesPerEpoch: 10,
  numEpochs: 6,
  maxTrainSteps: 60,
  epoch: 6,
  steps: 60,
  batchSize: 1,
  resolution: 512,
  datasetDirs: { '10_jiangnan': { img_count: 2, n_repeats: 10 } },
  tagFrequency: { '10_jiangnan': { 江南: 2, 'water town': 1 } },
  shuffleCaption: false,
  keepTokens: 0,
  captionDropoutRate: 0,
  flipAug: true,
  extra: { 'lora_scripts.config_hash': '0123456789abcdef' },
};

describe('buildKohyaMetadata', () => {
  it('writes every key of an SD1 run in Python str() spelling', () => {
    expect(buildKohyaMetadata(sd1Run)).toEqual({
      ss_session_id: '2718281828',
      ss_training_started_at: '1717171717.25',
      ss_output_name: 'jiangnan',
      ss_learning_rate: '0.0001',
      ss_text_encoder_lr: 'None',
      ss_unet_lr: '0.0001',
      ss_num_train_images: '20',
      ss_num_reg_images: '0',
      ss_num_batches_per_epoch: '10',
      ss_num_epochs: '6',
      ss_network_module: 'networks.lora',
      ss_network_dim: '16',
      ss_network_alpha: '16.0',
      ss_network_dropout: 'None',
      ss_gradient_accumulation_steps: '2',
      ss_max_train_steps: '60',
      ss_lr_warmup_steps: '0',
      ss_lr_scheduler: 'cosine',
      ss_optimizer: 'torch.optim.adamw.AdamW(weight_decay=0.01)',
      ss_mixed_precision: 'fp16',
      ss_v2: 'False',
      ss_base_model_version: 'sd_v1',
      ss_seed: '42',
      ss_noise_offset: 'None',
      ss_max_grad_norm: '1.0',
      ss_caption_dropout_rate: '0.0',
      ss_batch_size_per_device: '1',
      ss_total_batch_size: '2',
      ss_resolution: '(512, 512)',
      ss_flip_aug: 'True',
      ss_shuffle_caption: 'False',
      ss_keep_tokens: '0',
      ss_dataset_dirs: '{"10_jiangnan": {"n_repeats": 10, "img_count": 2}}',
      ss_reg_dataset_dirs: '{}',
      ss_tag_frequency: '{"10_jiangnan": {"\\u6c5f\\u5357": 2, "water town": 1}}',
      ss_sd_model_name: 'v1-5-pruned-emaonly.safetensors',
      ss_sd_model_hash: 'e1441589',
      ss_training_finished_at: '1717175317.5',
      ss_steps: '60',
      ss_epoch: '6',
      'modelspec.sai_model_spec': '1.0.1',
      'modelspec.architecture': 'stable-diffusion-v1/lora',
      'modelspec.implementation': 'diffusers',
      'modelspec.title': 'jiangnan',
      'modelspec.resolution': '512x512',
      'modelspec.date': '2024-06-01T01:08:37',
      'modelspec.prediction_type': 'epsilon',
      'modelspec.implementation_version': 'lora-scripts/0.1.0',
      'lora_scripts.config_hash': '0123456789abcdef',
    });
  });

  it('never writes the sshs_* hashes, which depend on the written bytes', () => {
    expect(Object.keys(buildKohyaMetadata(sd1Run)).filter((key) => key.startsWith('sshs_'))).toEqual([]);
  });

  it('describes an SDXL v-prediction run with buckets, clip skip, network args and a non-square resolution', () => {
    const metadata = buildKohyaMetadata({
      ...sd1Run,
      family: 'sdxl',
      predictionType: 'v_prediction',
      resolution: [1024, 768],
      clipSkip: 2,
      learningRate: 5e-5,
      networkArgs: { conv_dim: '8', conv_alpha: '4' },
      buckets: {
        minResolutionPx: 256,
        maxResolutionPx: 1024,
        isNoUpscale: false,
        buckets: [
          { resolution: [512, 512], count: 50 },
          { resolution: [576, 448], count: 4 },
        ],
        meanAspectRatioError: 0.0123,
      },
      modelspec: { title: 'Jiangnan', triggerPhrase: 'jiangnan style' },
    });
    expect(metadata).toMatchObject({
      ss_learning_rate: '5e-05',
      ss_v2: 'False',
      ss_base_model_version: 'sdxl_base_v1-0',
      ss_clip_skip: '2',
      ss_resolution: '(1024, 768)',
      ss_network_args: '{"conv_dim": "8", "conv_alpha": "4"}',
      ss_enable_bucket: 'True',
      ss_min_bucket_reso: '256',
      ss_max_bucket_reso: '1024',
      ss_bucket_no_upscale: 'False',
      ss_bucket_info:
        '{"buckets": {"0": {"resolution": [512, 512], "count": 50}, "1": {"resolution": [576, 448], "count": 4}}, "mean_img_ar_error": 0.0123}',
      'modelspec.architecture': 'stable-diffusion-xl-v1-base/lora',
      'modelspec.implementation': 'https://github.com/Stability-AI/generative-models',
      'modelspec.title': 'Jiangnan',
      'modelspec.resolution': '1024x768',
      'modelspec.prediction_type': 'v',
      'modelspec.encoder_layer': '2',
      'modelspec.trigger_phrase': 'jiangnan style',
    });
  });

  it('writes bucket_info "null" when bucketing is off, and SD2 v-prediction as 768-v', () => {
    const metadata = buildKohyaMetadata({ ...sd1Run, family: 'sd2', predictionType: 'v_prediction', buckets: null });
    expect([
      metadata.ss_enable_bucket,
      metadata.ss_bucket_info,
      metadata.ss_v2,
      metadata.ss_base_model_version,
    ]).toEqual(['False', 'null', 'True', 'sd_v2_v']);
    expect(metadata['modelspec.architecture']).toBe('stable-diffusion-v2-768-v/lora');
  });
});

describe('the training options sd-scripts records', () => {
  it('writes the noise, loss-weight and class-picture keys in its order and spelling', () => {
    const metadata = buildKohyaMetadata({
      ...sd1Run,
      noiseOffset: 0.05,
      multiresNoiseIterations: 6,
      multiresNoiseDiscount: 0.3,
      adaptiveNoiseScale: 0.01,
      zeroTerminalSnr: true,
      priorLossWeight: 1,
      minSnrGamma: 5,
      regDatasetDirs: { dogs: { n_repeats: 4, img_count: 5 } },
    });
    const keys = Object.keys(metadata);
    const trainingKeys = keys.slice(keys.indexOf('ss_noise_offset'), keys.indexOf('ss_min_snr_gamma') + 1);
    expect(trainingKeys.map((key) => [key, metadata[key]])).toEqual([
      ['ss_noise_offset', '0.05'],
      ['ss_multires_noise_iterations', '6'],
      ['ss_multires_noise_discount', '0.3'],
      ['ss_adaptive_noise_scale', '0.01'],
      ['ss_zero_terminal_snr', 'True'],
      ['ss_prior_loss_weight', '1.0'],
      ['ss_min_snr_gamma', '5.0'],
    ]);
    // Class pictures × repeats, as sd-scripts' num_reg_images; the training count is unchanged.
    expect([metadata.ss_num_reg_images, metadata.ss_num_train_images]).toEqual(['20', '20']);
    expect(metadata.ss_reg_dataset_dirs).toBe('{"dogs": {"n_repeats": 4, "img_count": 5}}');
  });

  it('writes "None" for an option that is off, as sd-scripts does', () => {
    const metadata = buildKohyaMetadata({ ...sd1Run, multiresNoiseIterations: null, adaptiveNoiseScale: null });
    expect([metadata.ss_multires_noise_iterations, metadata.ss_adaptive_noise_scale]).toEqual(['None', 'None']);
  });
});

describe('baseModelVersion', () => {
  it.each([
    ['sd1', 'epsilon', 'sd_v1'],
    ['sd1', 'v_prediction', 'sd_v1_v'],
    ['sd2', 'epsilon', 'sd_v2'],
    ['sd2', 'v_prediction', 'sd_v2_v'],
    ['sdxl', 'v_prediction', 'sdxl_base_v1-0'],
  ] as const)('%s + %s → %s', (family, prediction, version) => {
    expect(baseModelVersion(family, prediction)).toBe(version);
  });
});

describe('what the run did', () => {
  it('names the precision the engine computed in, whatever `mixed_precision` asked for', () => {
    expect(kohyaMixedPrecision('float32')).toBe('no');
    expect(kohyaMixedPrecision('float16')).toBe('fp16');
    expect(kohyaMixedPrecision('bfloat16')).toBe('bf16');
    expect(() => kohyaMixedPrecision('float8_e4m3fn')).toThrow('`float8_e4m3fn`');
  });

  it('names the optimizer class that ran, as sd-scripts spells it', () => {
    expect(kohyaOptimizer('adamw', 0.01)).toBe('torch.optim.adamw.AdamW(weight_decay=0.01)');
    // Python's str(): 1e-05, 0.0.
    expect(kohyaOptimizer('adamw8bit', 1e-5)).toBe('bitsandbytes.optim.adamw.AdamW8bit(weight_decay=1e-05)');
    expect(kohyaOptimizer('adamw', 0)).toBe('torch.optim.adamw.AdamW(weight_decay=0.0)');
  });

  it('writes the fixed arguments the engine gives Prodigy and Adafactor, as sd-scripts writes optimizer_args', () => {
    expect(kohyaOptimizer('prodigy', 0.01)).toBe(
      'prodigyopt.prodigy.Prodigy(weight_decay=0.01,decouple=True,use_bias_correction=True,safeguard_warmup=True)',
    );
    expect(kohyaOptimizer('adafactor', 0)).toBe(
      'transformers.optimization.Adafactor(weight_decay=0.0,relative_step=False,scale_parameter=False,warmup_init=False)',
    );
  });
});

describe('localIsoDate', () => {
  it('matches datetime.fromtimestamp(int(ts)).isoformat() in the given zone', () => {
    expect(localIsoDate(1717171717.9, 480)).toBe('2024-06-01T00:08:37'); // Asia/Shanghai
    expect(localIsoDate(1717171717, -240)).toBe('2024-05-31T12:08:37'); // America/New_York in summer
  });
});

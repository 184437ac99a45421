// The config → ss_* mapping of a training run: each new training option lands in the key sd-scripts (or LyCORIS)
// writes for it, spelled as they spell it, and what they have no key for in a `lora_scripts.*` key.
import { describe, expect, it } from 'vitest';
import { resolveConfig, validateConfig } from '../config/index.js';
import type { MeasuredItem } from '../dataset/index.js';
import type { EventOf } from '../engine/index.js';
import { buildKohyaMetadata } from '../lora/index.js';
import { kohyaMetadataInput, type KohyaRunFacts } from './kohya-metadata-input.js';
import { buildLineage } from './lineage.js';

function config(yaml: string) {
  const parsed = validateConfig({
    file: 'run.yaml',
    text: `train_data_dir: data\nbase_model: base.safetensors\n${yaml}`,
  });
  return resolveConfig(parsed, { cwd: '/work', isFile: () => false });
}

function item(relPath: string, repeats: number): MeasuredItem {
  return {
    relPath,
    repeats,
    caption: 'a photo, dog',
    path: `/pictures/${relPath}`,
    width: 64,
    height: 64,
  } as MeasuredItem;
}

const started: EventOf<'started'> = {
  type: 'started',
  family: 'sd1',
  prediction_type: 'epsilon',
  resolution: 64,
  num_images: 2,
  epochs: 2,
  steps_per_epoch: 4,
  total_steps: 8,
  layers: { unet: 32, text_encoder: 0 },
  targets: [],
  trainable_params: 1000,
};

function metadataFor(
  yaml: string,
  classItems: MeasuredItem[] = [],
  family: EventOf<'started'>['family'] = 'sd1',
): Record<string, string> {
  const facts: KohyaRunFacts = {
    config: config(yaml),
    items: [item('10_dog/a.png', 10), item('10_dog/b.png', 10)],
    classItems,
    hello: { dtype: 'float32' },
    started: { ...started, family },
    checkpoint: { step: 8, epoch: 2 },
    baseModelHash: null,
    baseModelNewHash: null,
    sessionId: 1,
    trainingStartedAt: 1700000000,
    trainingFinishedAt: 1700000060,
    utcOffsetMinutes: 0,
    lineage: buildLineage(null, [], 8),
  };
  return buildKohyaMetadata(kohyaMetadataInput(facts));
}

const pick = (metadata: Record<string, string>, keys: string[]) =>
  Object.fromEntries(keys.map((key) => [key, metadata[key]]));

const OPTION_KEYS = [
  'ss_noise_offset',
  'ss_multires_noise_iterations',
  'ss_multires_noise_discount',
  'ss_adaptive_noise_scale',
  'ss_zero_terminal_snr',
  'ss_prior_loss_weight',
  'ss_min_snr_gamma',
  'ss_num_reg_images',
  'ss_reg_dataset_dirs',
  'ss_optimizer',
  'ss_network_args',
  'lora_scripts.masked_loss',
  'lora_scripts.ema_decay',
];

describe('kohyaMetadataInput', () => {
  it('writes every option off as sd-scripts writes its defaults', () => {
    expect(pick(metadataFor(''), OPTION_KEYS)).toEqual({
      ss_noise_offset: 'None',
      ss_multires_noise_iterations: 'None',
      ss_multires_noise_discount: '0.3',
      ss_adaptive_noise_scale: 'None',
      ss_zero_terminal_snr: 'False',
      ss_prior_loss_weight: '1.0',
      ss_min_snr_gamma: 'None',
      ss_num_reg_images: '0',
      ss_reg_dataset_dirs: '{}',
      ss_optimizer: 'torch.optim.adamw.AdamW(weight_decay=0.01)',
      ss_network_args: undefined,
      'lora_scripts.masked_loss': undefined,
      'lora_scripts.ema_decay': undefined,
    });
  });

  it('records each training option that is on, in sd-scripts spelling, the rest as lora_scripts.* keys', () => {
    const metadata = metadataFor(
      [
        'noise_offset: 0.05',
        'adaptive_noise_scale: 0.01',
        'multires_noise_iterations: 6',
        'multires_noise_discount: 0.1',
        'zero_terminal_snr: true',
        'min_snr_gamma: 5',
        'reg_data_dir: class',
        'prior_loss_weight: 0.5',
        'masked_loss: true',
        'ema_decay: 0.999',
        'optimizer: prodigy',
        'learning_rate: 1',
        'unet_block_lr: [up_blocks.3=0.5, mid_block = 0]',
        'unet_block_rank: [mid_block=4]',
      ].join('\n'),
      [item('dog1.png', 7), item('dog2.png', 7), item('dog3.png', 7)],
    );
    expect(pick(metadata, OPTION_KEYS)).toEqual({
      ss_noise_offset: '0.05',
      ss_multires_noise_iterations: '6',
      ss_multires_noise_discount: '0.1',
      ss_adaptive_noise_scale: '0.01',
      ss_zero_terminal_snr: 'True',
      ss_prior_loss_weight: '0.5',
      ss_min_snr_gamma: '5.0',
      // sd-scripts counts class pictures with their repeats, as it does training pictures.
      ss_num_reg_images: '21',
      ss_reg_dataset_dirs: '{".": {"n_repeats": 7, "img_count": 3}}',
      ss_optimizer:
        'prodigyopt.prodigy.Prodigy(weight_decay=0.01,decouple=True,use_bias_correction=True,safeguard_warmup=True)',
      ss_network_args: '{"unet_block_lr": "up_blocks.3=0.5,mid_block=0", "unet_block_rank": "mid_block=4"}',
      'lora_scripts.masked_loss': 'True',
      'lora_scripts.ema_decay': '0.999',
    });
    expect(metadata.ss_num_train_images).toBe('20');
    expect(metadata.ss_dataset_dirs).toBe('{"10_dog": {"n_repeats": 10, "img_count": 2}}');
  });

  it("records LoKr's factor as LyCORIS' `factor` network arg, and Adafactor with the arguments it ran with", () => {
    const metadata = metadataFor('network_type: lokr\nlokr_factor: 8\noptimizer: adafactor');
    expect(metadata.ss_network_args).toBe('{"factor": "8"}');
    expect(metadata.ss_optimizer).toBe(
      'transformers.optimization.Adafactor(weight_decay=0.01,relative_step=False,scale_parameter=False,warmup_init=False)',
    );
  });

  it('keeps the run facts it mapped before: rank, precision, hashes and our own keys', () => {
    const metadata = metadataFor('lora_rank: 8\nlora_alpha: 4');
    expect(pick(metadata, ['ss_network_dim', 'ss_network_alpha', 'ss_mixed_precision', 'ss_sd_model_name'])).toEqual({
      ss_network_dim: '8',
      ss_network_alpha: '4.0',
      ss_mixed_precision: 'no',
      ss_sd_model_name: 'base.safetensors',
    });
    expect(Object.keys(metadata).filter((key) => key.startsWith('lora_scripts.'))).toEqual([
      'lora_scripts.version',
      'lora_scripts.config_hash',
      'lora_scripts.target_modules',
      'lora_scripts.lineage',
    ]);
  });

  it("writes SDXL's two text-encoder rates as sd-scripts' list, one rate for SD 1/2, None without text encoders", () => {
    const both = 'train_text_encoder: true\ntext_encoder_lr: 1e-5\ntext_encoder_2_lr: 0\n';
    expect(metadataFor(both, [], 'sdxl').ss_text_encoder_lr).toBe('[1e-05, 0.0]');
    expect(metadataFor('train_text_encoder: true\ntext_encoder_lr: 1e-5\n', [], 'sdxl').ss_text_encoder_lr).toBe(
      '[1e-05, 1e-05]',
    );
    expect(metadataFor(both).ss_text_encoder_lr).toBe('1e-05');
    expect(metadataFor('text_encoder_lr: 1e-5\n', [], 'sdxl').ss_text_encoder_lr).toBe('None');
  });
});

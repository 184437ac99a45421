// The only list of config keys: type, range, default and the reason to change each one.
// YAML validation, CLI flags, the README reference and the engine request all derive from this file.
import { z } from 'zod';

export type KeyGroup = 'data' | 'model' | 'lora' | 'training' | 'captions' | 'samples' | 'validation' | 'output';

export interface KeyMeta {
  group: KeyGroup;
  /** When and why to change the value; printed in the README table and `--help`. */
  description: string;
  /** A value as it would appear in YAML. */
  example?: string;
  /** How the default is derived when the schema default is `null` ("auto"). */
  derivedDefault?: string;
  /** Whether a relative value is a path resolved against the working directory. */
  isPath?: boolean;
  /** The value a bare flag gives (`--resume` alone means `latest`); such a key's flag takes an optional value. */
  bareFlagValue?: string;
  /**
   * Why the key may differ between a stopped run and its resume (one of RESUME_FREE_REASONS); keys without it are
   * compared by train/run-fingerprint.ts before a resume.
   */
  resumeFree?: ResumeFreeReason;
  /** Named values that stand for several others (`target_modules: attention+ff`); shown with the allowed values. */
  presets?: readonly string[];
  /** A flag value is split at commas (`--target-modules q_proj,v_proj`); otherwise one flag gives one list item. */
  isCommaListFlag?: boolean;
}

/** The reasons a key may change on resume, each said once. */
export const RESUME_FREE_REASONS = {
  runLength: 'sets how long the run goes on',
  resume: 'names the state to go on from',
  output: 'where and how often results are written',
  speed: 'changes speed or memory, not the numbers',
  samples: 'samples are rendered with their own random generator',
  hashedPath: 'a path: the hash of what it points at is compared instead, so moved files still resume',
  devices:
    'the global batch (`batch_size` × processes) is compared instead, so a state resumes on another device count',
} as const;
export type ResumeFreeReason = (typeof RESUME_FREE_REASONS)[keyof typeof RESUME_FREE_REASONS];
const RESUME = RESUME_FREE_REASONS;

/** Our own metadata registry (never zod's global one, so results don't depend on import order). */
export const keyMeta = z.registry<KeyMeta>();

// A new schema per key: the registry is keyed by schema instance.
const path = () => z.string().min(1, 'must be a non-empty path');

/** Keys that also accept `auto`: filled from the dataset and the device by train/recommend.ts (AUTO_KEYS finds them). */
const orAuto = <T extends z.ZodType>(schema: T) => z.union([schema, z.literal('auto')]);

/** The presets `target_modules` accepts besides module names; each is resolved in train/target-modules.ts. */
export const TARGET_PRESETS = ['attention', 'attention+ff', 'attention+ff+conv', 'all'] as const;
export type TargetPreset = (typeof TARGET_PRESETS)[number];

export const LR_SCHEDULERS = [
  'constant',
  'constant_with_warmup',
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
] as const;

export const OPTIMIZERS = ['adamw', 'adamw8bit', 'prodigy', 'adafactor'] as const;

// UNet blocks by their diffusers names; `other` (conv_in, time embedding, conv_out…) only takes a learning rate,
// since peft's rank pattern matches by block. The engine checks the block exists in the model.
const UNET_RANK_BLOCK = /^(down_blocks\.\d+|mid_block|up_blocks\.\d+)$/;
const UNET_LR_BLOCK = /^(down_blocks\.\d+|mid_block|up_blocks\.\d+|other)$/;

/**
 * `BLOCK=VALUE` items (`up_blocks.3=0.5`): a list, so YAML, flags and the form spell it alike. Messages start with
 * "must" so validate.ts shows them as they are.
 */
const blockValues = (value: z.ZodType<number>, blocks: RegExp, values: string) =>
  z
    .array(
      z.string().superRefine((item, ctx) => {
        const [block, raw, ...rest] = item.split('=').map((part) => part.trim());
        const names = blocks.test('other')
          ? 'down_blocks.N, mid_block, up_blocks.N or other'
          : 'down_blocks.N, mid_block or up_blocks.N';
        if (rest.length > 0 || !block || !blocks.test(block) || !raw) {
          ctx.addIssue({ code: 'custom', message: `must be BLOCK=VALUE with BLOCK one of ${names}` });
        } else if (!value.safeParse(Number(raw)).success) {
          ctx.addIssue({ code: 'custom', message: `must give each block ${values}` });
        }
      }),
    )
    .default([]);

const configKeys = z.strictObject({
  // -- data
  train_data_dir: path().register(keyMeta, {
    group: 'data',
    resumeFree: RESUME.hashedPath,
    isPath: true,
    description:
      'Folder with the training images (sub-folders are scanned; kohya `N_name` folders repeat their images N times).',
    example: './data/jiangnan_village',
  }),
  metadata_path: path().nullable().default(null).register(keyMeta, {
    group: 'data',
    resumeFree: RESUME.hashedPath,
    isPath: true,
    description:
      'CSV of `file_name,caption` rows (header optional). Without it, captions come from `.txt` files beside the images.',
    example: './data/jiangnan_village/metadata.csv',
    derivedDefault: '`metadata.csv` in `train_data_dir` if it exists, else `.txt` captions',
  }),
  reg_data_dir: path().nullable().default(null).register(keyMeta, {
    group: 'data',
    resumeFree: RESUME.hashedPath,
    isPath: true,
    description:
      'Regularisation (class) pictures for prior preservation: pictures of the class without your subject, captioned with the class word (`.txt` or `metadata.csv`, as `train_data_dir`). Repeated to about as many per epoch as your pictures and trained alongside at `prior_loss_weight`, so the LoRA does not turn every "dog" into yours. Never given the trigger word.',
    example: './data/class_dog',
  }),
  mask_dir: path().nullable().default(null).register(keyMeta, {
    group: 'data',
    resumeFree: RESUME.hashedPath,
    isPath: true,
    description:
      "Folder of `masked_loss` masks, one per picture with the same relative path and name (white: learn, black: ignore; a `.png` of the same name also matches). Keep it outside `train_data_dir`. Without it a picture's own transparency is its mask.",
    example: './data/jiangnan_village_masks',
  }),
  resolution: z.int().min(64).max(4096).multipleOf(8).nullable().default(null).register(keyMeta, {
    group: 'data',
    description:
      'Training size in px (images are resized and cropped to a square). Lower it to train faster or save memory.',
    example: '512',
    derivedDefault: "the base model's native size (512 SD 1.x, 768 SD 2.x-v, 1024 SDXL)",
  }),
  crop: z.enum(['center', 'random']).default('center').register(keyMeta, {
    group: 'data',
    description: '`random` crops differently each epoch: a mild augmentation for small datasets.',
  }),
  random_flip: z.boolean().default(false).register(keyMeta, {
    group: 'data',
    description:
      'Mirror images at random. Doubles variety, but teaches a mirrored style: leave off for text or asymmetric motifs.',
  }),
  crop_scale: z.number().min(0.5).max(1).default(1).register(keyMeta, {
    group: 'data',
    description:
      'Crop a square of this share of the short side before resizing (placed at random with `crop: random`): 0.8–0.9 adds small zooms and shifts for datasets under ~30 pictures; 1 keeps the whole square.',
    example: '0.85',
  }),
  color_jitter: z.number().min(0).max(0.5).default(0).register(keyMeta, {
    group: 'data',
    description:
      'Change brightness, contrast and saturation at random by up to ± this share per image and step (0.05–0.1 for small datasets). Keep 0 when exact colours are the style.',
    example: '0.05',
  }),

  // -- model
  base_model: path().register(keyMeta, {
    group: 'model',
    resumeFree: RESUME.hashedPath,
    isPath: true,
    description:
      'Base model: a single-file `.safetensors` (SD 1.x, 2.x or SDXL, detected from its keys), a diffusers folder, or a hub id (needs network).',
    example: './models/sd-v1-5-pruned.safetensors',
  }),
  prediction_type: z.enum(['auto', 'epsilon', 'v_prediction']).default('auto').register(keyMeta, {
    group: 'model',
    description:
      'Set only when the base model is a v-prediction model the detector gets wrong (SD 2.x 768-v is detected).',
  }),
  flux_components: path().nullable().default(null).register(keyMeta, {
    group: 'model',
    isPath: true,
    description:
      'Flux only: a diffusers Flux folder whose VAE, CLIP and T5 go with a single-file Flux transformer (`flux1-dev.safetensors` holds only the transformer). Not needed for a diffusers folder base.',
    example: './models/FLUX.1-dev',
  }),
  guidance_scale: z.number().min(0).max(100).default(1).register(keyMeta, {
    group: 'model',
    description:
      'Flux.1-dev only: the guidance value the transformer is told while training (dev was distilled from classifier-free guidance). Flux trainers train at 1.0 and render at 3–4; schnell ignores it.',
    example: '1.0',
  }),
  timestep_sampling: z.enum(['logit_normal', 'uniform']).default('logit_normal').register(keyMeta, {
    group: 'model',
    description:
      'Flux only: how training draws the noise level σ. `logit_normal` draws the middle, where the velocity is hardest to guess, more often (as Flux and SD3 were trained); `uniform` spreads steps evenly.',
  }),
  logit_mean: z.number().min(-5).max(5).default(0).register(keyMeta, {
    group: 'model',
    description:
      'Flux only, with `timestep_sampling: logit_normal`: the mean of the normal draw; above 0 leans to noisier steps (composition), below 0 to detail.',
  }),
  logit_std: z.number().gt(0).max(5).default(1).register(keyMeta, {
    group: 'model',
    description: 'Flux only, with `timestep_sampling: logit_normal`: the spread of the normal draw.',
  }),
  timestep_shift: z.number().gt(0).max(100).nullable().default(null).register(keyMeta, {
    group: 'model',
    description:
      'Flux only: shift σ toward noise by this factor (σ′ = shift·σ / (1 + (shift − 1)·σ)); 1 leaves σ as drawn.',
    derivedDefault: "from the picture's size, as Flux's own sampler shifts (≈3.2 at 1024²)",
  }),
  max_sequence_length: z.int().min(16).max(512).default(512).register(keyMeta, {
    group: 'model',
    description:
      'Flux only: T5 tokens per caption. 512 for dev; schnell was trained with 256. Shorter saves memory and time when captions are short.',
  }),

  // -- lora
  lora_rank: orAuto(z.int().min(1).max(1024)).default(16).register(keyMeta, {
    group: 'lora',
    description:
      "LoRA size. 4–8 suits simple motifs, 12–16 a detailed style; higher ranks start memorising pictures and grow the file. `auto`: chosen from the pictures' detail (`lora-scripts recommend` shows why).",
    example: '16',
  }),
  lora_alpha: z.number().positive().max(65536).nullable().default(null).register(keyMeta, {
    group: 'lora',
    description:
      'Scales the LoRA update by `lora_alpha / lora_rank`. Keep the default unless you copy settings from another trainer.',
    example: '32',
    derivedDefault: '2 × `lora_rank`',
  }),
  target_modules: z
    .union([z.string().min(1), z.array(z.string().min(1)).min(1, 'must list at least one module')])
    .default(['attention'])
    .register(keyMeta, {
      group: 'lora',
      presets: TARGET_PRESETS,
      isCommaListFlag: true,
      description:
        'Layers that get a LoRA: a preset, or names (`q_proj, k_proj, v_proj, out_proj`, `to_q, to_k, to_v, to_out.0`, `ff`, `proj_in`, `conv1`…). Wider targets learn more style and cost more.',
      example: '[q_proj, v_proj]',
    }),
  lora_dropout: z.number().min(0).max(0.9).default(0).register(keyMeta, {
    group: 'lora',
    description: 'Dropout inside the LoRA layers; 0.05–0.1 can reduce copying of training pictures on tiny datasets.',
  }),
  network_type: z.enum(['lora', 'loha', 'lokr', 'dora']).default('lora').register(keyMeta, {
    group: 'lora',
    description:
      'What the adapter learns. `lora` (LoCon when `target_modules` has convolutions) loads everywhere. `loha` (two low-rank pairs multiplied element-wise) and `lokr` (a Kronecker product, very small files) learn more per parameter: about half the `lora_rank` for `loha`. `dora` adds a magnitude per output row: ComfyUI and `lora-scripts merge` apply it, A1111 misapplies it. `combine` and `resize` take only `lora`.',
  }),
  lokr_factor: z
    .int()
    .min(-1)
    .max(1024)
    .refine((value) => value !== 0, { message: 'must be -1 or an integer of at least 1' })
    .default(-1)
    .register(keyMeta, {
      group: 'lora',
      description:
        'LoKr only: how each layer is split into the two Kronecker factors (LyCORIS `factor`); -1 splits near the square root, 4–16 makes the first factor and the file smaller.',
    }),
  unet_block_lr: blockValues(z.number().min(0).max(10), UNET_LR_BLOCK, 'a multiplier from 0 to 10').register(keyMeta, {
    group: 'lora',
    isCommaListFlag: true,
    description:
      'Multiplies `learning_rate` for the LoRA layers of UNet blocks (`up_blocks.3=0.5, mid_block=0`; `other`: layers outside the blocks). Outer blocks carry texture and detail, inner ones composition; 0 leaves a block untrained. SD 1/2 have blocks 0–3, SDXL 0–2.',
    example: '[up_blocks.3=0.5, mid_block=0]',
  }),
  unet_block_rank: blockValues(z.int().min(1).max(1024), UNET_RANK_BLOCK, 'an integer rank from 1 to 1024').register(
    keyMeta,
    {
      group: 'lora',
      isCommaListFlag: true,
      description:
        'A LoRA rank per UNet block (`mid_block=4, up_blocks.1=32`); the other blocks keep `lora_rank`, and each keeps the `lora_alpha / lora_rank` scale. Ignored with `init_lora`.',
      example: '[mid_block=4]',
    },
  ),
  train_text_encoder: z.boolean().default(false).register(keyMeta, {
    group: 'lora',
    description:
      'Also train a LoRA on the text encoder(s). Helps a trigger word take hold; costs memory and can overfit quickly.',
  }),
  init_lora: path().nullable().default(null).register(keyMeta, {
    group: 'lora',
    resumeFree: RESUME.hashedPath,
    isPath: true,
    description:
      'Continue training this LoRA file (kohya/WebUI or diffusers) on new or mixed pictures. Its rank, alpha and layers are used (`lora_rank`, `lora_alpha`, `target_modules`, `lora_dropout` are then ignored); the new file names it as its parent in `lora_scripts.lineage`.',
    example: './output/jiangnan_style/jiangnan_style.safetensors',
  }),

  // -- training
  batch_size: orAuto(z.int().min(1).max(512)).default(1).register(keyMeta, {
    group: 'training',
    description:
      'Images per step. Raise it while memory allows; with a larger batch, raise `learning_rate` a little. `auto`: from the device memory and the resolution.',
    example: '4',
  }),
  epochs: orAuto(z.int().min(1).max(100000)).default(10).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.runLength,
    description:
      'Passes over the dataset. 15–20 suits under 200 images; fewer if samples start copying training pictures. `auto`: from the number of pictures.',
    example: '15',
  }),
  max_train_steps: z.int().min(1).nullable().default(null).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.runLength,
    description: 'Stop after this many optimizer steps, whatever `epochs` says.',
    derivedDefault: '`epochs` × steps per epoch',
  }),
  learning_rate: orAuto(z.number().positive().max(1)).default(1e-4).register(keyMeta, {
    group: 'training',
    description:
      'UNet LoRA learning rate. 1e-4 is safe; 2e-4–5e-4 learns faster but can burn the style in. `auto`: 1e-4 scaled with the batch size.',
    example: '2e-4',
  }),
  text_encoder_lr: z.number().min(0).max(1).nullable().default(null).register(keyMeta, {
    group: 'training',
    description:
      'Learning rate of the text-encoder LoRA (with `train_text_encoder`; on SDXL the first encoder, CLIP ViT-L). Usually half of `learning_rate` or less; 0 leaves that encoder frozen (no LoRA on it). Every encoder at 0 is refused: set `train_text_encoder: false` instead.',
    derivedDefault: '`learning_rate`',
  }),
  text_encoder_2_lr: z.number().min(0).max(1).nullable().default(null).register(keyMeta, {
    group: 'training',
    description:
      "SDXL only: learning rate of the second text encoder's LoRA (OpenCLIP ViT-bigG, with `train_text_encoder`). 0 leaves it frozen (no LoRA on it); kohya's SDXL advice is to train at most the first encoder, and lower than the UNet (docs/sdxl.md).",
    derivedDefault: '`text_encoder_lr`',
  }),
  lr_scheduler: z.enum(LR_SCHEDULERS).default('constant').register(keyMeta, {
    group: 'training',
    description:
      'How the learning rate changes over the run; `cosine` ends gently and often gives a cleaner last epoch.',
  }),
  lr_warmup_steps: z.int().min(0).default(0).register(keyMeta, {
    group: 'training',
    description: 'Steps over which the learning rate ramps up from 0; a few % of the run steadies the start.',
  }),
  gradient_accumulation_steps: z.int().min(1).max(1024).default(1).register(keyMeta, {
    group: 'training',
    description: 'Add up gradients over N batches before a step: a larger effective batch without more memory.',
  }),
  mixed_precision: z.enum(['auto', 'no', 'fp16', 'bf16']).default('auto').register(keyMeta, {
    group: 'training',
    description:
      '`auto` picks bf16 on GPUs that support it, else fp16 on CUDA; on a CPU bf16 when it multiplies bf16 at least 1.5× faster than fp32 (a 60 ms probe; AVX-512 BF16/AMX CPUs) and the base model is full-size, else fp32 (`no`). The choice is printed with its reason. The LoRA weights and optimizer always stay fp32.',
  }),
  max_grad_norm: z.number().min(0).default(1).register(keyMeta, {
    group: 'training',
    description: 'Gradient clipping; 0 turns it off.',
  }),
  adam_weight_decay: z.number().min(0).max(1).default(1e-2).register(keyMeta, {
    group: 'training',
    description: 'AdamW weight decay on the LoRA weights.',
  }),
  noise_offset: z.number().min(0).max(1).default(0).register(keyMeta, {
    group: 'training',
    description:
      'Adds a per-image brightness offset to the noise (0.05–0.1) so the LoRA can learn very dark or very bright pictures.',
  }),
  adaptive_noise_scale: z.number().min(0).max(1).default(0).register(keyMeta, {
    group: 'training',
    description:
      "Grows `noise_offset` per picture by this times the mean of its latents, so pictures already far from average brightness get a larger shift (kohya's option; try 0.01 with `noise_offset: 0.05`).",
  }),
  multires_noise_iterations: z.int().min(0).max(20).default(0).register(keyMeta, {
    group: 'training',
    description:
      'Adds noise drawn at coarser and coarser sizes (multi-resolution noise) so the LoRA also learns overall colour and contrast; 6–10 as in kohya. 0: off.',
    example: '8',
  }),
  multires_noise_discount: z.number().gt(0).max(1).default(0.3).register(keyMeta, {
    group: 'training',
    description:
      'Weight of each coarser layer of `multires_noise_iterations` relative to the one before: 0.3, or 0.1 for small datasets; higher gives blotchy noise.',
  }),
  zero_terminal_snr: z.boolean().default(false).register(keyMeta, {
    group: 'training',
    description:
      'Rescales the noise schedule so its last step is pure noise (Lin et al. 2023): the LoRA can make truly dark or bright pictures. Needs a v-prediction model (`prediction_type: v_prediction`); sample with trailing timesteps.',
  }),
  min_snr_gamma: z.number().positive().max(100).nullable().default(null).register(keyMeta, {
    group: 'training',
    description:
      "Min-SNR loss weighting: each sample counts min(SNR, γ)/SNR, so the many nearly clean timesteps stop dominating; 5 (the paper's value) usually reaches the same quality in fewer steps. `null`: off.",
    example: '5',
  }),
  ema_decay: z.number().gt(0).max(0.9999).nullable().default(null).register(keyMeta, {
    group: 'training',
    description:
      'Saves an exponential moving average of the LoRA weights instead of the last ones: smoother results from noisy small-batch training. It warms up (0.99 after ~900 steps), so 0.999 is a cap; 0.99 for runs of a few hundred steps. Samples and the validation loss use the average too. `null`: off.',
    example: '0.999',
  }),
  prior_loss_weight: z.number().min(0).max(10).default(1).register(keyMeta, {
    group: 'training',
    description:
      "Weight of the `reg_data_dir` pictures' loss relative to your pictures' (DreamBooth's λ; 1 as in the paper and kohya).",
  }),
  masked_loss: z.boolean().default(false).register(keyMeta, {
    group: 'training',
    description:
      "Learn only where each picture's mask is white: masks from `mask_dir`, else the picture's transparency; pictures without a mask are learned whole. Keeps backgrounds, text or watermarks out of the LoRA.",
  }),
  seed: z
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .default(42)
    .register(keyMeta, {
      group: 'training',
      description: 'Same seed, data and settings give the same LoRA (on the same device).',
    }),
  resume: z.string().min(1).nullable().default(null).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.resume,
    bareFlagValue: 'latest',
    description:
      'Go on from a saved training state exactly as if the run had not stopped: `latest` (the flag `--resume` alone) takes the newest state in `<output_dir>/states/` and fails if there is none; `auto` starts a new run when there is none; or give a state folder. Only `epochs`, `max_train_steps` and the output and sample keys may differ from the stopped run.',
    example: 'latest',
  }),

  // -- captions
  trigger_word: z.string().min(1).nullable().default(null).register(keyMeta, {
    group: 'captions',
    description:
      'Word put at the start of every caption that lacks it, so the prompt can switch the style on (e.g. `jiangnan_style`).',
    example: 'jiangnan_style',
  }),
  caption_extension: z
    .string()
    .regex(/^\.\w+$/, 'must look like `.txt`')
    .default('.txt')
    .register(keyMeta, {
      group: 'captions',
      description: 'Extension of per-image caption files (used when there is no `metadata_path`).',
    }),
  shuffle_caption: z.boolean().default(false).register(keyMeta, {
    group: 'captions',
    description:
      'Shuffle comma-separated caption parts each step (tag-style captions); the trigger word and `keep_tokens` stay first.',
  }),
  keep_tokens: z.int().min(0).default(0).register(keyMeta, {
    group: 'captions',
    description: 'With `shuffle_caption`, this many leading comma-separated parts stay in place.',
  }),
  caption_dropout_rate: z.number().min(0).max(1).default(0).register(keyMeta, {
    group: 'captions',
    description:
      'Share of steps trained with an empty caption (0.05–0.1): the style then also shows without the trigger word.',
  }),

  // -- aspect-ratio buckets and caching of frozen work (train/buckets.ts, engine latent_cache.py)
  bucketing: z.enum(['auto', 'on', 'off']).default('auto').register(keyMeta, {
    group: 'data',
    description:
      'Train each picture at the bucket (about `resolution`² pixels, sides in steps of 64 px) closest to its aspect ratio instead of a square crop, so wide and tall pictures keep their whole composition; batches hold one bucket each. `auto`: on when the pictures have more than one aspect ratio. Needs `resolution`.',
  }),
  bucket_max_upscale: z.number().min(1).max(8).default(1.5).register(keyMeta, {
    group: 'data',
    description:
      'A small picture whose bucket would need more upscaling than this goes to a smaller bucket of the same shape instead (as `prepare --max-upscale`).',
  }),
  cache_latents: z.boolean().default(true).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.speed,
    description:
      'Encode each picture (and its mirror with `random_flip`) with the frozen VAE once, before training, instead of at every step; stored under `cache_dir` and reused by later runs. Pictures that change every epoch (`color_jitter`, `crop: random` with room to move) are still encoded per step. Results are identical either way.',
  }),
  cache_dir: path().nullable().default(null).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.speed,
    isPath: true,
    description:
      'Where cached latents are kept: point several runs at one folder to share them. Entries are keyed by image bytes, size, crop, VAE and format, so a stale one is never used; delete the folder to reclaim space.',
    derivedDefault: '`cache/` in `output_dir`',
  }),
  cache_text_encoder_outputs: z.boolean().default(true).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.speed,
    description:
      'Encode each distinct caption once when the text encoder is not trained and captions are fixed (no `shuffle_caption`); in memory only. Results are identical either way.',
  }),
  optimizer: z.enum(OPTIMIZERS).default('adamw').register(keyMeta, {
    group: 'training',
    description:
      "`adamw` (the fused kernel, on CUDA and CPU); `adamw8bit` keeps the optimizer state in 8 bits (bitsandbytes, CUDA only) for GPUs short of memory; a LoRA's optimizer state is small, so it saves little there. `prodigy` finds the step size itself: set `learning_rate: 1` (and `text_encoder_lr` 1 or 0.5) with a constant or cosine scheduler. `adafactor` keeps far less optimizer state than AdamW, at the usual learning rate (1e-4).",
  }),
  gradient_checkpointing: z.boolean().default(false).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.speed,
    description:
      'Recompute activations in the backward pass instead of keeping them: much less memory (larger `batch_size` or `resolution` on a small GPU) for ~30 % more time per step. Same result.',
  }),
  torch_compile: z.boolean().default(false).register(keyMeta, {
    group: 'training',
    resumeFree: RESUME.speed,
    description:
      'Compile the UNet with `torch.compile` (needs a C++ compiler on CPU): the first steps take minutes longer, later ones can be faster on a GPU. Same result up to float rounding.',
  }),
  cpu_kernels: z.enum(['auto', 'off']).default('auto').register(keyMeta, {
    group: 'training',
    description:
      "`auto` uses the engine's own CPU bf16 kernels (packed convolutions and linear layers, blocked attention: ~20 % faster steps) when a start-up probe finds every op they need and a one-layer self-check matches PyTorch's layer; `off` always uses PyTorch's kernels. Only bf16 training on a CPU is affected.",
  }),

  devices: z
    .union([
      z.enum(['single', 'all']),
      z
        .string()
        .regex(
          /^cpu:([1-9]|[1-5][0-9]|6[0-4])$/,
          'must be `single`, `all`, `cpu:N` (N 1–64) or a list of GPU indices such as `[0, 1]`',
        ),
      z
        .array(z.int().min(0).max(63))
        .min(1, 'must list at least one GPU index')
        .refine((ids) => new Set(ids).size === ids.length, 'lists a GPU index twice'),
    ])
    .default('single')
    .register(keyMeta, {
      group: 'training',
      resumeFree: RESUME.devices,
      description:
        '`single` trains in one process on the device the engine picks (a GPU, else the CPU). `all` or GPU indices (`[0, 1]`) train one job on several GPUs at once, one process per GPU (data parallel through accelerate); `cpu:N` runs N processes on the CPU (gloo). `batch_size` is per process: each step learns from `batch_size` × processes × `gradient_accumulation_steps` pictures, and `learning_rate` is used as given (not scaled). A state resumes on another device count when that global batch stays the same. See docs/multi-gpu.md.',
      example: '[0, 1]',
    }),

  // -- samples
  sample_prompts: z.array(z.string().min(1)).default([]).register(keyMeta, {
    group: 'samples',
    resumeFree: RESUME.samples,
    description:
      'Prompts rendered with the LoRA during training (to `samples/` and TensorBoard) so you can watch the style arrive.',
    example: '["jiangnan_style, stone bridge over a canal, misty morning"]',
  }),
  sample_every_n_steps: z.int().min(1).nullable().default(null).register(keyMeta, {
    group: 'samples',
    resumeFree: RESUME.samples,
    description: 'How often to render `sample_prompts`.',
    derivedDefault: '`save_steps` (or only at the end when that is 0)',
  }),
  sample_inference_steps: z.int().min(1).max(200).default(20).register(keyMeta, {
    group: 'samples',
    resumeFree: RESUME.samples,
    description: 'Denoising steps per sample image.',
  }),

  // -- validation and diagnostics
  validation_split: z.number().min(0).max(0.5).default(0).register(keyMeta, {
    group: 'validation',
    description:
      'Share of the pictures held out of training to measure a validation loss (0.1 from ~50 pictures). It is measured at fixed noise and timesteps, so values at different steps compare; 0 trains on every picture.',
    example: '0.1',
  }),
  validation_dir: path().nullable().default(null).register(keyMeta, {
    group: 'validation',
    isPath: true,
    description:
      'A folder of captioned pictures kept out of training for the validation loss, instead of `validation_split`.',
    example: './data/jiangnan_village_validation',
  }),
  validation_every_n_steps: z.int().min(1).nullable().default(null).register(keyMeta, {
    group: 'validation',
    description: 'How often to measure the validation loss (also measured at the end).',
    derivedDefault: '`sample_every_n_steps`, else 10 times over the run',
  }),
  early_stop: z.enum(['off', 'plateau', 'overfitting', 'any']).default('off').register(keyMeta, {
    group: 'validation',
    description:
      'Stop (and save) when the validation loss has stopped improving (`plateau`, needs `validation_split` or `validation_dir`), when samples become near-copies of training pictures (`overfitting`, needs `sample_prompts`), or at either (`any`). `off` only warns.',
    example: 'overfitting',
  }),

  // -- output
  output_dir: path().nullable().default(null).register(keyMeta, {
    group: 'output',
    resumeFree: RESUME.output,
    isPath: true,
    description: 'Where the LoRA files, checkpoints, samples and TensorBoard logs (`logs/`) go.',
    example: './output/jiangnan_style',
    derivedDefault: '`./output/<name of train_data_dir>`',
  }),
  output_name: z
    .string()
    .regex(/^[^/\\:<>"|?*]+$/, 'must be a file name without `/ \\ : < > " | ? *`')
    .nullable()
    .default(null)
    .register(keyMeta, {
      group: 'output',
      resumeFree: RESUME.output,
      description:
        'Name of the WebUI/ComfyUI LoRA file `<output_name>.safetensors`, used in prompts as `<lora:output_name:0.7>`.',
      derivedDefault: 'the last folder of `output_dir`',
    }),
  save_steps: z.int().min(0).default(0).register(keyMeta, {
    group: 'output',
    resumeFree: RESUME.output,
    description:
      'Also save an intermediate LoRA every N steps (`<output_name>-step00000100.safetensors`), to pick the best one later; 0 saves only the final one.',
    example: '100',
  }),
  save_precision: z.enum(['fp16', 'bf16', 'fp32']).default('fp16').register(keyMeta, {
    group: 'output',
    resumeFree: RESUME.output,
    description: 'Number format of the saved LoRA. fp16 halves the file and loads everywhere.',
  }),
  save_state_limit: z.int().min(0).max(1000).default(2).register(keyMeta, {
    group: 'output',
    resumeFree: RESUME.output,
    description:
      'Training states kept in `<output_dir>/states/` for `resume` (one is saved with every checkpoint, every `save_state_every_minutes` and when a run stops; each is about 3× an fp32 LoRA). 0 saves none, and a stopped run then cannot resume.',
  }),
  save_state_every_minutes: z.number().min(0).max(1440).default(10).register(keyMeta, {
    group: 'output',
    resumeFree: RESUME.output,
    description:
      'Also save a training state every N minutes (at the next step boundary), so a killed or crashed run loses at most that much work even when `save_steps` is 0. 0: states only with checkpoints and at the end.',
    example: '30',
  }),
  logging_steps: z.int().min(1).default(1).register(keyMeta, {
    group: 'output',
    resumeFree: RESUME.output,
    description: 'Write TensorBoard scalars (loss, smoothed loss, learning rate, it/s) every N steps.',
  }),
});

/** Every key, and the checks across keys (each names the key to change). */
export const configSchema = configKeys
  .refine((config) => config.init_lora === null || config.network_type === 'lora', {
    // load_init_lora reads the file with diffusers' LoRA loader: a LoHa/LoKr/DoRA adapter cannot continue from it.
    path: ['init_lora'],
    message: 'must be left out with `network_type` other than `lora` (`init_lora` continues a LoRA)',
  })
  .refine((config) => !trainsNoTextEncoder(config), {
    // Every encoder frozen would quietly train the UNet only; `train_text_encoder: false` says that.
    path: ['text_encoder_lr'],
    message:
      'must be above 0 with `train_text_encoder: true` while `text_encoder_2_lr` is 0 too (no text encoder would train); set `train_text_encoder: false` to train the UNet only',
  });

/** `train_text_encoder` with every text encoder at rate 0: `text_encoder_2_lr` left out takes `text_encoder_lr`. */
function trainsNoTextEncoder(config: z.output<typeof configKeys>): boolean {
  const secondLr = config.text_encoder_2_lr ?? config.text_encoder_lr;
  return config.train_text_encoder && config.text_encoder_lr === 0 && secondLr === 0;
}

/** What a YAML file may contain: defaulted keys are optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** What validation returns: every key present, derived defaults still `null`. */
export type ParsedConfig = z.output<typeof configSchema>;

/** Every config key, in schema order. */
export const CONFIG_KEYS = Object.keys(configSchema.shape) as (keyof ParsedConfig)[];

export function metaOf(key: keyof ParsedConfig): KeyMeta {
  const meta = keyMeta.get(configSchema.shape[key]);
  if (!meta) throw new Error(`config key ${key} has no metadata`);
  return meta;
}

/** The schema inside `.default()`, `.nullable()` and `.optional()`: what the value itself may be. */
function innerSchema(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodDefault || schema instanceof z.ZodNullable || schema instanceof z.ZodOptional) {
    return innerSchema(schema.unwrap() as z.ZodType);
  }
  return schema;
}

function unionOptions(schema: z.ZodType): readonly z.ZodType[] {
  const inner = innerSchema(schema);
  return inner instanceof z.ZodUnion ? (inner.options as readonly z.ZodType[]) : [inner];
}

/** Built by `orAuto`: a number or the literal `auto` (enums that include `auto` are modes, not recommendations). */
function acceptsAuto(key: keyof ParsedConfig): boolean {
  return unionOptions(configSchema.shape[key]).some((s) => s instanceof z.ZodLiteral && s.values.has('auto'));
}

/** Keys whose value is a number or `auto`, as the type system sees the schema. */
type AutoKeyOf<T> = { [K in keyof T]-?: 'auto' extends T[K] ? (number extends T[K] ? K : never) : never }[keyof T];
export type AutoKey = AutoKeyOf<ParsedConfig>;
/** Keys that accept `auto` (a recommendation from the dataset and the device, with its reason), in schema order. */
export const AUTO_KEYS: readonly AutoKey[] = CONFIG_KEYS.filter((key): key is AutoKey => acceptsAuto(key));
/** Values for the keys a config sets to `auto`. */
export type AutoValues = Partial<Record<AutoKey, number>>;

/** Keys that may differ between a stopped run and its resume (`resumeFree` in their metadata says why). */
export const RESUME_FREE_KEYS: readonly (keyof ParsedConfig)[] = CONFIG_KEYS.filter((key) => metaOf(key).resumeFree);

/**
 * Keys whose value may be a list of text (`target_modules`, `sample_prompts`): their flags build lists. `devices`
 * (GPU numbers) is not one: its flag value is read as YAML (`--devices '[0, 1]'`, `--devices cpu:2`).
 */
export const LIST_KEYS: readonly (keyof ParsedConfig)[] = CONFIG_KEYS.filter((key) =>
  unionOptions(configSchema.shape[key]).some((s) => s instanceof z.ZodArray && s.element instanceof z.ZodString),
);

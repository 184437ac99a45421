// Training facts → the `ss_*` and `modelspec.*` metadata sd-scripts writes (docs/formats/ss-metadata.md §2, §3),
// every value spelled as Python's str() would. Pure: the caller passes times and the UTC offset; nothing here reads
// the clock.
import type { BaseFamily } from './kohya-keys.js';
import {
  PyFloat,
  pythonBoolString,
  pythonFloatString,
  pythonIntString,
  pythonJsonDumps,
  pythonTupleString,
  type PyJson,
} from './python-format.js';

/** Flux learns a velocity (`flow_matching`). */
export type PredictionType = 'epsilon' | 'v_prediction' | 'flow_matching';
/** The SD families, or Flux.1 (its LoRAs are trained on the transformer only). */
export type MetadataFamily = BaseFamily | 'flux';
export type BaseModelVersion = 'sd_v1' | 'sd_v1_v' | 'sd_v2' | 'sd_v2_v' | 'sdxl_base_v1-0' | 'flux1';

export interface BucketFacts {
  minResolutionPx: number;
  maxResolutionPx: number;
  isNoUpscale: boolean;
  buckets: ReadonlyArray<{ resolution: readonly [width: number, height: number]; count: number }>;
  meanAspectRatioError: number;
}

export interface ModelspecFacts {
  /** Defaults to the output name. */
  title?: string;
  author?: string;
  description?: string;
  license?: string;
  tags?: string;
  triggerPhrase?: string;
  usageHint?: string;
}

/**
 * What a training run knows when it saves. A field left `undefined` leaves its key out; `null` writes `"None"`,
 * as sd-scripts does for a setting that is off.
 */
export interface KohyaMetadataInput {
  outputName: string;
  /** Random 0…2^32, one per run. */
  sessionId: number;
  /** Unix seconds (fractions allowed), from the caller's clock. */
  trainingStartedAt: number;
  trainingFinishedAt: number;
  /** Local time minus UTC in minutes (`-new Date().getTimezoneOffset()`), for `modelspec.date`. */
  utcOffsetMinutes: number;
  /** lora-scripts' version, for `modelspec.implementation_version`. */
  toolVersion: string;
  trainingComment?: string | null;

  family: MetadataFamily;
  predictionType: PredictionType;
  /** Flux: FLUX.1-dev or -schnell (`modelspec.architecture`); default dev. */
  fluxVariant?: 'dev' | 'schnell';
  /** Base model file name (or hub id). */
  baseModelName: string;
  /** A1111's old hash: sha256 of 64 KiB at 1 MiB, 8 hex digits. */
  baseModelHash?: string | null;
  /** sha256 of the whole base model file. */
  baseModelNewHash?: string | null;

  networkDim: number;
  networkAlpha: number;
  networkDropout?: number | null;
  /** Raw `key=value` network args (e.g. `conv_dim`), written only when given. */
  networkArgs?: Readonly<Record<string, string>>;

  learningRate: number;
  unetLr: number | null;
  /** One rate, or SDXL's two (first, second encoder), which sd-scripts writes as a Python list `[1e-05, 0.0]`. */
  textEncoderLr: number | readonly number[] | null;
  optimizer?: string;
  lrScheduler: string;
  lrWarmupSteps: number;
  gradientAccumulationSteps: number;
  gradientCheckpointing?: boolean;
  maxGradNorm?: number | null;
  noiseOffset?: number | null;
  /** `null`: off (sd-scripts' default). */
  adaptiveNoiseScale?: number | null;
  /** `null`: off. */
  multiresNoiseIterations?: number | null;
  multiresNoiseDiscount?: number;
  zeroTerminalSnr?: boolean;
  minSnrGamma?: number | null;
  /** The weight of the class pictures' loss (sd-scripts writes its default, 1.0, with or without them). */
  priorLossWeight?: number;
  mixedPrecision: 'no' | 'fp16' | 'bf16';
  seed: number;
  clipSkip?: number | null;

  numBatchesPerEpoch: number;
  numEpochs: number;
  maxTrainSteps: number;
  /** Where this save happens. */
  epoch: number;
  steps: number;

  batchSize: number;
  /** Square size, or [width, height]. */
  resolution: number | readonly [width: number, height: number];
  /** Per image folder (its basename): repeats and image count. */
  datasetDirs: Readonly<Record<string, { n_repeats: number; img_count: number }>>;
  /** The same for the class pictures (prior preservation); they make `ss_num_reg_images`. Default: none. */
  regDatasetDirs?: Readonly<Record<string, { n_repeats: number; img_count: number }>>;
  /** Per image folder: caption tag (lower-cased) → count. */
  tagFrequency: Readonly<Record<string, Readonly<Record<string, number>>>>;
  shuffleCaption: boolean;
  keepTokens: number;
  captionDropoutRate: number;
  captionDropoutEveryNEpochs?: number;
  captionTagDropoutRate?: number;
  flipAug?: boolean;
  randomCrop?: boolean;
  colorAug?: boolean;
  cacheLatents?: boolean;
  /** `null`: bucketing off. */
  buckets?: BucketFacts | null;

  modelspec?: ModelspecFacts;
  /** Our own keys, passed through unchanged. */
  extra?: Readonly<Record<`lora_scripts.${string}`, string>>;
}

/** The `ss_base_model_version` sd-scripts writes; it has no v-prediction variant for SDXL. */
export function baseModelVersion(family: MetadataFamily, predictionType: PredictionType): BaseModelVersion {
  if (family === 'flux') return 'flux1'; // sd-scripts' flux_utils.MODEL_VERSION_FLUX_V1
  if (family === 'sdxl') return 'sdxl_base_v1-0';
  const version = family === 'sd1' ? 'sd_v1' : 'sd_v2';
  return predictionType === 'v_prediction' ? `${version}_v` : version;
}

export type KohyaMixedPrecision = KohyaMetadataInput['mixedPrecision'];

// The compute dtypes the engine trains in (its `hello` event, engine/lora_scripts_engine/device.py).
const PRECISION_OF_DTYPE: Readonly<Record<string, KohyaMixedPrecision>> = {
  float32: 'no',
  float16: 'fp16',
  bfloat16: 'bf16',
};

/** `ss_mixed_precision` for the dtype the run really computed in: `mixed_precision: auto` is never written as such. */
export function kohyaMixedPrecision(computeDtype: string): KohyaMixedPrecision {
  const precision = PRECISION_OF_DTYPE[computeDtype];
  if (!precision)
    throw new Error(`the engine computed in \`${computeDtype}\`, which has no \`ss_mixed_precision\` value`);
  return precision;
}

// The classes engine/lora_scripts_engine/speed.py `make_optimizer` builds, spelled `module.Class` as sd-scripts writes
// them (`optimizer_class.__module__ + "." + __name__`), and the fixed arguments it gives them beyond the weight decay
// (training_options.py `make_optimizer_extra`), in its order. The engine fails rather than fall back to another
// optimizer, so the config names the class that ran.
const OPTIMIZER_CLASSES = {
  adamw: { name: 'torch.optim.adamw.AdamW', args: '' },
  adamw8bit: { name: 'bitsandbytes.optim.adamw.AdamW8bit', args: '' },
  prodigy: {
    name: 'prodigyopt.prodigy.Prodigy',
    args: ',decouple=True,use_bias_correction=True,safeguard_warmup=True',
  },
  adafactor: {
    name: 'transformers.optimization.Adafactor',
    args: ',relative_step=False,scale_parameter=False,warmup_init=False',
  },
} as const;

/**
 * `ss_optimizer`: the class, then the arguments it was given, as sd-scripts writes its `optimizer_args`
 * (`name(k=v,k=v)`, Python spelling); the learning rate is not among them (it has its own keys).
 */
export function kohyaOptimizer(optimizer: keyof typeof OPTIMIZER_CLASSES, weightDecay: number): string {
  const { name, args } = OPTIMIZER_CLASSES[optimizer];
  return `${name}(weight_decay=${pythonFloatString(weightDecay)}${args})`;
}

/**
 * The metadata map, all values strings, in the order sd-scripts adds them. `sshs_model_hash` and
 * `sshs_legacy_hash` are not here: they depend on the written bytes, so the file writer adds them.
 */
export function buildKohyaMetadata(input: KohyaMetadataInput): Record<string, string> {
  const entries: Array<[string, string | undefined]> = [
    ...runEntries(input),
    ...networkEntries(input),
    ...trainingEntries(input),
    ...datasetEntries(input),
    ...baseModelEntries(input),
    ['ss_training_finished_at', pythonFloatString(input.trainingFinishedAt)],
    ['ss_steps', pythonIntString(input.steps)],
    ['ss_epoch', pythonIntString(input.epoch)],
    ...modelspecEntries(input),
    ...Object.entries(input.extra ?? {}),
  ];
  return Object.fromEntries(entries.filter((entry): entry is [string, string] => entry[1] !== undefined));
}

type Entries = Array<[string, string | undefined]>;

// Formatters for "undefined: leave the key out, null: Python None".
const float = (x: number | null | undefined) =>
  x === undefined ? undefined : x === null ? 'None' : pythonFloatString(x);
const floatOrList = (x: number | readonly number[] | null) =>
  typeof x === 'object' && x !== null ? `[${x.map(pythonFloatString).join(', ')}]` : float(x);
const int = (x: number | null | undefined) => (x === undefined ? undefined : x === null ? 'None' : pythonIntString(x));
const bool = (x: boolean | undefined) => (x === undefined ? undefined : pythonBoolString(x));
const text = (x: string | null | undefined) => (x === undefined ? undefined : x === null ? 'None' : x);

function runEntries(input: KohyaMetadataInput): Entries {
  return [
    ['ss_session_id', int(input.sessionId)],
    ['ss_training_started_at', float(input.trainingStartedAt)],
    ['ss_output_name', input.outputName],
    ['ss_learning_rate', float(input.learningRate)],
    ['ss_text_encoder_lr', floatOrList(input.textEncoderLr)],
    ['ss_unet_lr', float(input.unetLr)],
    ['ss_num_train_images', int(numTrainImages(input.datasetDirs))],
    ['ss_num_reg_images', int(numTrainImages(input.regDatasetDirs ?? {}))],
    ['ss_num_batches_per_epoch', int(input.numBatchesPerEpoch)],
    ['ss_num_epochs', int(input.numEpochs)],
  ];
}

function networkEntries(input: KohyaMetadataInput): Entries {
  return [
    ['ss_network_module', 'networks.lora'],
    ['ss_network_dim', int(input.networkDim)],
    // sd-scripts' --network_alpha is a float, so 16 is written "16.0".
    ['ss_network_alpha', float(input.networkAlpha)],
    ['ss_network_dropout', float(input.networkDropout)],
    ['ss_network_args', input.networkArgs === undefined ? undefined : pythonJsonDumps(input.networkArgs)],
  ];
}

function trainingEntries(input: KohyaMetadataInput): Entries {
  return [
    ['ss_gradient_checkpointing', bool(input.gradientCheckpointing)],
    ['ss_gradient_accumulation_steps', int(input.gradientAccumulationSteps)],
    ['ss_max_train_steps', int(input.maxTrainSteps)],
    ['ss_lr_warmup_steps', int(input.lrWarmupSteps)],
    ['ss_lr_scheduler', input.lrScheduler],
    ['ss_optimizer', text(input.optimizer)],
    ['ss_mixed_precision', input.mixedPrecision],
    ['ss_v2', pythonBoolString(input.family === 'sd2')],
    ['ss_base_model_version', baseModelVersion(input.family, input.predictionType)],
    ['ss_clip_skip', int(input.clipSkip)],
    ['ss_seed', int(input.seed)],
    ['ss_noise_offset', float(input.noiseOffset)],
    ['ss_multires_noise_iterations', int(input.multiresNoiseIterations)],
    ['ss_multires_noise_discount', float(input.multiresNoiseDiscount)],
    ['ss_adaptive_noise_scale', float(input.adaptiveNoiseScale)],
    ['ss_zero_terminal_snr', bool(input.zeroTerminalSnr)],
    ['ss_prior_loss_weight', float(input.priorLossWeight)],
    ['ss_min_snr_gamma', float(input.minSnrGamma)],
    ['ss_max_grad_norm', float(input.maxGradNorm)],
    ['ss_caption_dropout_rate', float(input.captionDropoutRate)],
    ['ss_caption_dropout_every_n_epochs', int(input.captionDropoutEveryNEpochs)],
    ['ss_caption_tag_dropout_rate', float(input.captionTagDropoutRate)],
    ['ss_training_comment', text(input.trainingComment)],
  ];
}

function datasetEntries(input: KohyaMetadataInput): Entries {
  const [width, height] = resolutionPx(input.resolution);
  return [
    ['ss_batch_size_per_device', int(input.batchSize)],
    // One process, so the total is the per-device batch times accumulation (sd-scripts also multiplies by processes).
    ['ss_total_batch_size', int(input.batchSize * input.gradientAccumulationSteps)],
    ['ss_resolution', pythonTupleString([width, height])],
    ['ss_cache_latents', bool(input.cacheLatents)],
    ['ss_color_aug', bool(input.colorAug)],
    ['ss_flip_aug', bool(input.flipAug)],
    ['ss_random_crop', bool(input.randomCrop)],
    ['ss_shuffle_caption', pythonBoolString(input.shuffleCaption)],
    ['ss_keep_tokens', int(input.keepTokens)],
    ...bucketEntries(input.buckets),
    ['ss_dataset_dirs', pythonJsonDumps(datasetDirsJson(input.datasetDirs))],
    ['ss_reg_dataset_dirs', pythonJsonDumps(datasetDirsJson(input.regDatasetDirs ?? {}))],
    ['ss_tag_frequency', pythonJsonDumps(input.tagFrequency)],
  ];
}

function bucketEntries(buckets: BucketFacts | null | undefined): Entries {
  if (buckets === undefined) return [];
  if (buckets === null)
    return [
      ['ss_enable_bucket', 'False'],
      ['ss_bucket_info', 'null'],
    ];
  const info = {
    buckets: Object.fromEntries(
      buckets.buckets.map((b, i) => [String(i), { resolution: [...b.resolution], count: b.count }]),
    ),
    mean_img_ar_error: new PyFloat(buckets.meanAspectRatioError),
  };
  return [
    ['ss_enable_bucket', 'True'],
    ['ss_min_bucket_reso', int(buckets.minResolutionPx)],
    ['ss_max_bucket_reso', int(buckets.maxResolutionPx)],
    ['ss_bucket_no_upscale', pythonBoolString(buckets.isNoUpscale)],
    ['ss_bucket_info', pythonJsonDumps(info)],
  ];
}

function baseModelEntries(input: KohyaMetadataInput): Entries {
  return [
    ['ss_sd_model_name', input.baseModelName],
    // Unknown hashes are left out rather than written as "None": A1111 matches these strings against its models.
    ['ss_sd_model_hash', input.baseModelHash ?? undefined],
    ['ss_new_sd_model_hash', input.baseModelNewHash ?? undefined],
  ];
}

const ARCHITECTURES: Record<BaseFamily, { epsilon: string; v_prediction: string }> = {
  sd1: { epsilon: 'stable-diffusion-v1/lora', v_prediction: 'stable-diffusion-v1/lora' },
  sd2: { epsilon: 'stable-diffusion-v2-512/lora', v_prediction: 'stable-diffusion-v2-768-v/lora' },
  sdxl: { epsilon: 'stable-diffusion-xl-v1-base/lora', v_prediction: 'stable-diffusion-xl-v1-base/lora' },
};

const IMPLEMENTATIONS: Partial<Record<MetadataFamily, string>> = {
  sdxl: 'https://github.com/Stability-AI/generative-models',
  flux: 'https://github.com/black-forest-labs/flux',
};

/** sai_model_spec's architecture names: Flux's are `flux-1-dev/lora` and `flux-1-schnell/lora`. */
function modelspecArchitecture(input: KohyaMetadataInput): string {
  if (input.family === 'flux') return `flux-1-${input.fluxVariant ?? 'dev'}/lora`;
  return ARCHITECTURES[input.family][input.predictionType === 'v_prediction' ? 'v_prediction' : 'epsilon'];
}

function modelspecEntries(input: KohyaMetadataInput): Entries {
  const [width, height] = resolutionPx(input.resolution);
  const spec = input.modelspec ?? {};
  return [
    ['modelspec.sai_model_spec', '1.0.1'],
    ['modelspec.architecture', modelspecArchitecture(input)],
    // sd-scripts' rule (sai_model_spec.py): SDXL LoRAs name Stability's implementation, Flux BFL's, SD1/SD2 diffusers.
    ['modelspec.implementation', IMPLEMENTATIONS[input.family] ?? 'diffusers'],
    ['modelspec.title', spec.title ?? input.outputName],
    ['modelspec.resolution', `${width}x${height}`],
    ['modelspec.date', localIsoDate(input.trainingFinishedAt, input.utcOffsetMinutes)],
    // sai_model_spec has no value for a velocity (flow-matching) model: Flux files leave the key out.
    [
      'modelspec.prediction_type',
      input.family === 'flux' ? undefined : input.predictionType === 'v_prediction' ? 'v' : 'epsilon',
    ],
    ['modelspec.encoder_layer', input.clipSkip == null ? undefined : pythonIntString(input.clipSkip)],
    ['modelspec.implementation_version', `lora-scripts/${input.toolVersion}`],
    ['modelspec.author', spec.author],
    ['modelspec.description', spec.description],
    ['modelspec.license', spec.license],
    ['modelspec.tags', spec.tags],
    ['modelspec.trigger_phrase', spec.triggerPhrase],
    ['modelspec.usage_hint', spec.usageHint],
  ];
}

/** Like Python's `datetime.fromtimestamp(int(ts)).isoformat()`: local time, whole seconds, no zone. */
export function localIsoDate(unixSeconds: number, utcOffsetMinutes: number): string {
  const local = new Date((Math.trunc(unixSeconds) + utcOffsetMinutes * 60) * 1000);
  return local.toISOString().slice(0, 19);
}

function resolutionPx(resolution: KohyaMetadataInput['resolution']): readonly [number, number] {
  return typeof resolution === 'number' ? [resolution, resolution] : resolution;
}

function numTrainImages(dirs: KohyaMetadataInput['datasetDirs']): number {
  // kohya counts each image once per repeat.
  return Object.values(dirs).reduce((sum, dir) => sum + dir.n_repeats * dir.img_count, 0);
}

function datasetDirsJson(dirs: KohyaMetadataInput['datasetDirs']): PyJson {
  // Rebuilt so the JSON always has sd-scripts' field order, whatever order the caller's objects have.
  return Object.fromEntries(
    Object.entries(dirs).map(([name, dir]) => [name, { n_repeats: dir.n_repeats, img_count: dir.img_count }]),
  );
}

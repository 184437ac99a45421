// A run's config and the engine's events → what buildKohyaMetadata records (docs/formats/ss-metadata.md §2). Pure:
// the caller passes the clock, the hashes and the lineage, so every mapping from a config key to its `ss_*` key is
// tested here rather than through a training run.
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { datasetDirs, tagFrequency, type MeasuredItem } from '../dataset/index.js';
import type { EventOf } from '../engine/index.js';
import { kohyaMixedPrecision, kohyaOptimizer, pythonFloatString, type KohyaMetadataInput } from '../lora/index.js';
import { TOOL_VERSION } from '../version.js';
import { LINEAGE_METADATA_KEY, type Lineage } from './lineage.js';

export interface KohyaRunFacts {
  config: ResolvedConfig;
  /** The training pictures. */
  items: readonly MeasuredItem[];
  /** `reg_data_dir`'s class pictures, with the repeats they were trained at. */
  classItems: readonly MeasuredItem[];
  /** Its dtype is the precision the run computed in (`mixed_precision: auto` resolved). */
  hello: Pick<EventOf<'hello'>, 'dtype'>;
  started: EventOf<'started'>;
  checkpoint: Pick<EventOf<'checkpoint'>, 'step' | 'epoch'>;
  baseModelHash: string | null;
  baseModelNewHash: string | null;
  sessionId: number;
  trainingStartedAt: number;
  trainingFinishedAt: number;
  utcOffsetMinutes: number;
  lineage: Lineage;
}

export function kohyaMetadataInput(facts: KohyaRunFacts): KohyaMetadataInput {
  const { config, started, checkpoint } = facts;
  const { family, prediction_type: predictionType } = started;
  // A Flux run: buildKohyaMetadata writes sd-scripts' Flux keys (`ss_base_model_version: flux1`, flux-1-dev/lora).
  return {
    outputName: config.output_name,
    sessionId: facts.sessionId,
    trainingStartedAt: facts.trainingStartedAt,
    trainingFinishedAt: facts.trainingFinishedAt,
    networkDim: started.lora_rank ?? config.lora_rank,
    networkAlpha: started.lora_alpha ?? config.lora_alpha,
    networkDropout: config.lora_dropout,
    networkArgs: networkArgs(config),
    learningRate: config.learning_rate,
    unetLr: config.learning_rate,
    textEncoderLr: textEncoderLr(config, family),
    numBatchesPerEpoch: started.steps_per_epoch * config.gradient_accumulation_steps,
    numEpochs: started.epochs,
    epoch: checkpoint.epoch,
    steps: checkpoint.step,
    maxTrainSteps: started.total_steps,
    batchSize: config.batch_size,
    gradientAccumulationSteps: config.gradient_accumulation_steps,
    lrScheduler: config.lr_scheduler,
    lrWarmupSteps: config.lr_warmup_steps,
    mixedPrecision: kohyaMixedPrecision(facts.hello.dtype),
    seed: config.seed,
    resolution: started.resolution,
    utcOffsetMinutes: facts.utcOffsetMinutes,
    toolVersion: TOOL_VERSION,
    predictionType,
    family,
    fluxVariant: started.flux_variant,
    baseModelName: basename(config.base_model),
    baseModelHash: facts.baseModelHash,
    baseModelNewHash: facts.baseModelNewHash,
    // Off is 0 in our config and None in sd-scripts'.
    noiseOffset: config.noise_offset || null,
    adaptiveNoiseScale: config.adaptive_noise_scale || null,
    multiresNoiseIterations: config.multires_noise_iterations || null,
    multiresNoiseDiscount: config.multires_noise_discount,
    zeroTerminalSnr: config.zero_terminal_snr,
    minSnrGamma: config.min_snr_gamma,
    priorLossWeight: config.prior_loss_weight,
    maxGradNorm: config.max_grad_norm,
    captionDropoutRate: config.caption_dropout_rate,
    shuffleCaption: config.shuffle_caption,
    keepTokens: config.keep_tokens,
    flipAug: config.random_flip,
    randomCrop: config.crop === 'random',
    tagFrequency: tagFrequency([...facts.items]),
    datasetDirs: datasetDirs([...facts.items]),
    regDatasetDirs: datasetDirs([...facts.classItems]),
    optimizer: kohyaOptimizer(config.optimizer, config.adam_weight_decay),
    extra: {
      'lora_scripts.version': TOOL_VERSION,
      'lora_scripts.config_hash': configHash(config),
      'lora_scripts.target_modules': JSON.stringify(config.target_modules),
      ...ownOptionKeys(config),
      [LINEAGE_METADATA_KEY]: JSON.stringify(facts.lineage),
    },
  };
}

/**
 * `ss_network_args` beyond what the tensors show (a LyCORIS file's `algo`/`dora_wd` are added by its writer):
 * LyCORIS' LoKr `factor`, and our per-block settings under our own names, in the config's `BLOCK=VALUE` items
 * joined by commas. sd-scripts' `down_lr_weight`/`block_dims` count kohya's 12+1+12 blocks, which ours are not, so
 * their names are not borrowed. Undefined when there is nothing to say, as sd-scripts leaves the key out.
 */
function networkArgs(config: ResolvedConfig): Record<string, string> | undefined {
  const args: Record<string, string> = {};
  if (config.network_type === 'lokr') args.factor = String(config.lokr_factor);
  if (config.unet_block_lr.length > 0) args.unet_block_lr = blockItems(config.unet_block_lr);
  if (config.unet_block_rank.length > 0) args.unet_block_rank = blockItems(config.unet_block_rank);
  return Object.keys(args).length > 0 ? args : undefined;
}

/** `[' up_blocks.3 = 0.5', 'mid_block=0']` → `up_blocks.3=0.5,mid_block=0`, the `--unet-block-lr` spelling. */
function blockItems(items: readonly string[]): string {
  return items
    .map((item) =>
      item
        .split('=')
        .map((part) => part.trim())
        .join('='),
    )
    .join(',');
}

/** Options sd-scripts has no `ss_*` key for (its masked loss is not recorded; it has no EMA): only when on. */
function ownOptionKeys(config: ResolvedConfig): Record<`lora_scripts.${string}`, string> {
  return {
    ...(config.masked_loss ? { 'lora_scripts.masked_loss': 'True' } : {}),
    ...(config.ema_decay !== null ? { 'lora_scripts.ema_decay': pythonFloatString(config.ema_decay) } : {}),
  };
}

export function configHash(config: ResolvedConfig): string {
  return createHash('sha256').update(JSON.stringify(config)).digest('hex').slice(0, 16);
}

/** SDXL's two encoders as sd-scripts' list (`[te1, te2]`, 0 = frozen), one rate for SD 1/2; None without text encoders. */
function textEncoderLr(config: ResolvedConfig, family: string): number | number[] | null {
  if (!config.train_text_encoder) return null;
  return family === 'sdxl' ? [config.text_encoder_lr, config.text_encoder_2_lr] : config.text_encoder_lr;
}

// What a model file or folder is, from facts that are cheap to read (a safetensors header, a diffusers folder's
// configs): base model, LoRA, VAE, text encoder…, and for a base model its family, prediction type and native size.
// Pure: the one place that tells checkpoint families apart (train, merge, generate, recommend and the engine use it).
import type { BaseFamily } from '../lora/kohya-keys.js';

export type CheckpointKind = 'base' | 'lora' | 'vae' | 'text-encoder' | 'embedding' | 'unknown';
export type CheckpointLayout = 'single-file' | 'diffusers-folder' | 'hub-id';
/** Flux learns a velocity (rectified flow): `flow_matching`. */
export type PredictionType = 'epsilon' | 'v_prediction' | 'flow_matching';
/** A base model's family: the Stable Diffusion ones (whose LoRA files src/lora reads) or Flux.1. */
export type ModelFamily = BaseFamily | 'flux';
/** FLUX.1-dev takes a guidance value (guidance-distilled); FLUX.1-schnell does not (few-step distilled). */
export type FluxVariant = 'dev' | 'schnell';

/** Why a file cannot be used as a base model: the message follows the file name, the hint says what to do. */
export interface CheckpointProblem {
  code: string;
  message: string;
  hint: string;
}

export interface CheckpointVerdict {
  kind: CheckpointKind;
  layout: CheckpointLayout;
  /** null where not knowable without loading (a hub id) or not a base model. */
  family: ModelFamily | null;
  /** Flux only. A Flux `single-file` holds the transformer alone: the rest comes from `flux_components`. */
  fluxVariant?: FluxVariant;
  /** null where only a forward pass tells (an SD 2.x file without metadata) or for a hub id. */
  predictionType: PredictionType | null;
  /** The size the model was trained at (UNet sample size × VAE downsampling), or null when not readable here. */
  nativeSizePx: number | null;
  /** `lora_scripts.architecture` metadata (written by `make-checkpoint` and the engine's single_file.py), parsed. */
  architecture: Architecture | null;
  /** Set for every kind but a usable `base`. */
  problem: CheckpointProblem | null;
}

/** The parts of the architecture record this side reads; the engine reads the rest. */
export interface Architecture {
  family: string;
  prediction_type: string;
  unet: { sample_size?: unknown; in_channels?: unknown };
  vae: { block_out_channels?: unknown };
  [part: string]: unknown;
}

/** A safetensors header, reduced to what judging needs (TensorInfo fits). */
export interface HeaderFacts {
  tensors: ReadonlyMap<string, { shape: readonly number[] }>;
  metadata: Readonly<Record<string, string>>;
}

/** A diffusers folder's JSON files, each null when absent or unreadable. */
export interface FolderFacts {
  modelIndex: Record<string, unknown> | null;
  unet: Record<string, unknown> | null;
  vae: Record<string, unknown> | null;
  textEncoder: Record<string, unknown> | null;
  scheduler: Record<string, unknown> | null;
  /** `config.json` at the top: what a single-component folder (a VAE, a text encoder) has instead of model_index. */
  component: Record<string, unknown> | null;
  /** `transformer/config.json` (Flux). */
  transformer?: Record<string, unknown> | null;
}

export const ARCHITECTURE_METADATA_KEY = 'lora_scripts.architecture';
const UNET_PREFIX = 'model.diffusion_model.';
const VAE_PREFIX = 'first_stage_model.';
// Text-encoder layouts, last prefix first-checked (as engine single_file.py TEXT_ENCODER_LAYOUTS writes them).
const TEXT_ENCODER_PREFIXES: Record<BaseFamily, readonly string[]> = {
  sdxl: ['conditioner.embedders.0.transformer.', 'conditioner.embedders.1.model.'],
  sd2: ['cond_stage_model.model.'],
  sd1: ['cond_stage_model.transformer.'],
};
/** SD 1.x and SDXL have one native size; SD 2.x is 512 (base) or 768 (v), which only its configs or a forward tell. */
const NATIVE_SIZE_PX: Record<BaseFamily, number | null> = { sd1: 512, sd2: null, sdxl: 1024 };
const ARCHITECTURE_PARTS = ['family', 'prediction_type', 'unet', 'vae', 'text_encoder', 'scheduler'];
const LORA_KEY =
  /^lora_(unet|te\d?)_|^lycoris_|\.lora_(A|B|down|up|mid)\.|[._]lora\.(down|up)\.|\.lora_linear_layer\.|\.(hada|lokr)_w/;
const VAE_ROOTS = ['encoder.', 'decoder.', 'quant_conv.', 'post_quant_conv.', VAE_PREFIX];
const TEXT_ENCODER_ROOTS = [
  'text_model.',
  'cond_stage_model.',
  'conditioner.embedders.',
  'text_encoders.',
  'transformer.resblocks.',
  'token_embedding.',
  'positional_embedding',
  'ln_final.',
  'text_projection',
  'logit_scale',
];

const FULL_CHECKPOINT_HINT =
  'use a full Stable Diffusion checkpoint (SD 1.x, SD 2.x or SDXL .safetensors), a diffusers folder or a hub id';

// A Flux transformer in Black Forest Labs' layout (flux1-dev.safetensors), bare or under ComfyUI's prefixes.
const FLUX_PREFIXES = ['', 'model.diffusion_model.', 'diffusion_model.'];
const FLUX_MARKERS = ['double_blocks.0.img_attn.norm.key_norm.scale', 'img_in.weight'];
const FLUX_NATIVE_SIZE_PX = 1024;

/** A single .safetensors file, judged by its tensor names, a few shapes and its metadata. */
export function judgeSingleFile(header: HeaderFacts): CheckpointVerdict {
  const keys = [...header.tensors.keys()];
  const fluxPrefix = FLUX_PREFIXES.find((prefix) => FLUX_MARKERS.every((key) => header.tensors.has(prefix + key)));
  if (fluxPrefix !== undefined) {
    const hasGuidance = keys.some((key) => key.startsWith(`${fluxPrefix}guidance_in.`));
    return fluxBase('single-file', hasGuidance ? 'dev' : 'schnell');
  }
  if (!keys.some((key) => key.startsWith(UNET_PREFIX))) return notACheckpoint(keys);
  const inputConv = header.tensors.get(`${UNET_PREFIX}input_blocks.0.0.weight`)?.shape;
  if (inputConv !== undefined && inputConv[1] !== 4) {
    return unusableBase(
      'base_model_unrecognized',
      `has a UNet with ${inputConv[1]} input channels (an inpainting or instruct-pix2pix model), not a text-to-image base model`,
    );
  }
  const family = (['sdxl', 'sd2', 'sd1'] as const).find((f) =>
    keys.some((key) => key.startsWith(TEXT_ENCODER_PREFIXES[f].at(-1)!)),
  );
  if (family === undefined) {
    if (keys.some((key) => key.startsWith('conditioner.embedders.0.model.'))) {
      return unusableBase('base_model_unrecognized', 'is an SDXL refiner, which cannot be trained on as a base model');
    }
    return unusableBase('base_model_incomplete', 'has UNet weights but no text encoder weights');
  }
  const missing = [...TEXT_ENCODER_PREFIXES[family], VAE_PREFIX].find(
    (prefix) => !keys.some((key) => key.startsWith(prefix)),
  );
  if (missing !== undefined) return unusableBase('base_model_incomplete', `has no \`${missing}*\` weights`);
  const architecture = readArchitecture(header.metadata, family);
  if ('problem' in architecture) return { ...unusableBase('base_model_corrupt', architecture.problem), family };
  const record = architecture.record;
  // ComfyUI marks v-models with an empty `v_pred` tensor; other SD 1.x and SDXL files are epsilon models.
  const predictionType =
    (record?.prediction_type as PredictionType | undefined) ??
    (keys.includes('v_pred') ? 'v_prediction' : family === 'sd2' ? null : 'epsilon');
  const nativeSizePx = record ? nativeSizeOfConfigs(record.unet, record.vae) : NATIVE_SIZE_PX[family];
  return {
    kind: 'base',
    layout: 'single-file',
    family,
    predictionType,
    nativeSizePx,
    architecture: record,
    problem: null,
  };
}

/** A diffusers folder, judged by model_index.json and its components' configs (as from_pretrained would read them). */
export function judgeDiffusersFolder(folder: FolderFacts): CheckpointVerdict {
  const className = folder.modelIndex?._class_name;
  if (folder.modelIndex === null) return notAPipelineFolder(folder.component);
  if (className === 'FluxPipeline') return judgeFluxFolder(folder);
  if (className !== 'StableDiffusionPipeline' && className !== 'StableDiffusionXLPipeline') {
    return {
      ...unusableBase(
        'base_model_unrecognized',
        `is a \`${String(className)}\`; only StableDiffusionPipeline, StableDiffusionXLPipeline and FluxPipeline models are supported`,
      ),
      layout: 'diffusers-folder',
    };
  }
  // SD 2.x's OpenCLIP-H uses gelu; the OpenAI CLIP of SD 1.x uses quick_gelu (tiny models too).
  const family: BaseFamily =
    className === 'StableDiffusionXLPipeline' ? 'sdxl' : folder.textEncoder?.hidden_act === 'gelu' ? 'sd2' : 'sd1';
  const inChannels = folder.unet?.in_channels;
  if (typeof inChannels === 'number' && inChannels !== 4) {
    return {
      ...unusableBase(
        'base_model_unrecognized',
        `has a UNet with ${inChannels} input channels (an inpainting or instruct-pix2pix model), not a text-to-image base model`,
      ),
      layout: 'diffusers-folder',
      family,
    };
  }
  const scheduled = folder.scheduler?.prediction_type;
  const predictionType: PredictionType = scheduled === 'v_prediction' ? 'v_prediction' : 'epsilon'; // diffusers' default
  const nativeSizePx = nativeSizeOfConfigs(folder.unet ?? {}, folder.vae ?? {});
  return {
    kind: 'base',
    layout: 'diffusers-folder',
    family,
    predictionType,
    nativeSizePx,
    architecture: null,
    problem: null,
  };
}

/** A diffusers FluxPipeline folder: dev when its transformer has a guidance embedding. */
function judgeFluxFolder(folder: FolderFacts): CheckpointVerdict {
  if (!folder.transformer) {
    return {
      ...unusableBase(
        'base_model_incomplete',
        'is a Flux folder without `transformer/config.json` (the VAE and text encoders only)',
        'give it as `flux_components` beside a Flux transformer file (flux1-dev.safetensors), or use a full Flux folder',
      ),
      layout: 'diffusers-folder',
      family: 'flux',
    };
  }
  return fluxBase('diffusers-folder', folder.transformer.guidance_embeds === true ? 'dev' : 'schnell');
}

function fluxBase(layout: CheckpointLayout, variant: FluxVariant): CheckpointVerdict {
  return {
    kind: 'base',
    layout,
    family: 'flux',
    fluxVariant: variant,
    predictionType: 'flow_matching',
    nativeSizePx: FLUX_NATIVE_SIZE_PX,
    architecture: null,
    problem: null,
  };
}

/** `owner/name` on the hub: nothing is known before the engine downloads it. */
export function hubVerdict(): CheckpointVerdict {
  return {
    kind: 'base',
    layout: 'hub-id',
    family: null,
    predictionType: null,
    nativeSizePx: null,
    architecture: null,
    problem: null,
  };
}

/** UNet sample size × the VAE's downsampling (2 per level after the first), as diffusers' pipelines compute it. */
export function nativeSizeOfConfigs(
  unet: { sample_size?: unknown },
  vae: { block_out_channels?: unknown },
): number | null {
  const sample = unet.sample_size;
  const levels = vae.block_out_channels;
  return typeof sample === 'number' && Array.isArray(levels) && levels.length > 0
    ? sample * 2 ** (levels.length - 1)
    : null;
}

function notACheckpoint(keys: readonly string[]): CheckpointVerdict {
  const loraKey = keys.find((key) => LORA_KEY.test(key));
  if (loraKey !== undefined) {
    const why = keys.every((key) => key.startsWith('lora_'))
      ? 'all its keys start with `lora_`'
      : `it holds LoRA factors such as \`${loraKey}\``;
    return other('lora', `this is a LoRA, not a base model (${why})`);
  }
  if (keys.some((key) => ['emb_params', 'clip_l', 'clip_g'].includes(key) || key.startsWith('string_to_param'))) {
    return other('embedding', 'this is a textual-inversion embedding, not a base model');
  }
  if (keys.length > 0 && keys.every((key) => VAE_ROOTS.some((root) => key.startsWith(root))))
    return other('vae', 'this is a VAE alone, not a base model');
  if (keys.length > 0 && keys.every((key) => TEXT_ENCODER_ROOTS.some((root) => key.startsWith(root)))) {
    return other('text-encoder', 'this is a text encoder alone, not a base model');
  }
  if (keys.some((key) => /^(unet\.)?down_blocks\./.test(key))) {
    return other(
      'unknown',
      'holds diffusers-layout UNet weights, not a single-file checkpoint (give the whole diffusers folder instead)',
    );
  }
  return other('unknown', 'does not look like a Stable Diffusion checkpoint (no `model.diffusion_model.*` weights)');
}

function notAPipelineFolder(component: Record<string, unknown> | null): CheckpointVerdict {
  const className = String(component?._class_name ?? component?.architectures ?? '');
  const verdict = (kind: Exclude<CheckpointKind, 'base'>, message: string) => ({
    ...other(kind, message),
    layout: 'diffusers-folder' as const,
  });
  if (className === 'AutoencoderKL') return verdict('vae', 'this is a VAE folder, not a base model');
  if (className.startsWith('CLIPTextModel'))
    return verdict('text-encoder', 'this is a text-encoder folder, not a base model');
  return verdict('unknown', 'has no `model_index.json`, so it is not a diffusers model folder');
}

function other(kind: Exclude<CheckpointKind, 'base'>, message: string): CheckpointVerdict {
  const code = kind === 'unknown' ? 'base_model_unrecognized' : `base_model_is_${kind.replace('-', '_')}`;
  return {
    kind,
    layout: 'single-file',
    family: null,
    predictionType: null,
    nativeSizePx: null,
    architecture: null,
    problem: { code, message, hint: FULL_CHECKPOINT_HINT },
  };
}

function unusableBase(code: string, message: string, givenHint?: string): CheckpointVerdict {
  const hint =
    givenHint ??
    (code === 'base_model_corrupt'
      ? 'the file was edited or damaged: rewrite it with lora-scripts or use the original checkpoint'
      : code === 'base_model_incomplete'
        ? 'use a full checkpoint (UNet, VAE and text encoders in one file) or a diffusers folder'
        : FULL_CHECKPOINT_HINT);
  return {
    kind: 'base',
    layout: 'single-file',
    family: null,
    predictionType: null,
    nativeSizePx: null,
    architecture: null,
    problem: { code, message, hint },
  };
}

/** The architecture record, null for a checkpoint from elsewhere, or what is wrong with it. */
function readArchitecture(
  metadata: Readonly<Record<string, string>>,
  family: BaseFamily,
): { record: Architecture | null } | { problem: string } {
  const raw = metadata[ARCHITECTURE_METADATA_KEY];
  if (raw === undefined) return { record: null };
  const spoil = (what: string) => ({ problem: `its \`${ARCHITECTURE_METADATA_KEY}\` metadata ${what}` });
  let record: unknown;
  try {
    record = JSON.parse(raw);
  } catch {
    return spoil('is not valid JSON');
  }
  if (typeof record !== 'object' || record === null) return spoil('is not a JSON object');
  const missing = ARCHITECTURE_PARTS.filter((part) => !(part in record));
  if (missing.length > 0) return spoil(`lacks ${missing.map((m) => `\`${m}\``).join(', ')}`);
  const { family: claimed, prediction_type: prediction } = record as Architecture;
  if (claimed !== family || (prediction !== 'epsilon' && prediction !== 'v_prediction')) {
    return spoil(`says ${String(claimed)}/${String(prediction)} but the weights have the ${family} layout`);
  }
  return { record: record as Architecture };
}

// A training run on a Flux.1 base: what the engine's train_flux does not do is refused before anything starts, and
// the LoRA the engine saves (diffusers names, pytorch_lora_weights.safetensors) is written again in kohya/ComfyUI
// names (`lora_unet_double_blocks_0_img_attn_qkv`…) as `<output_name>.safetensors`, as SD runs are.
import type { BaseModelVerdict } from '../checkpoint/index.js';
import { configSchema, type ResolvedConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { convertPeftFileToKohya, type BaseFamily } from '../lora/index.js';
import { convertFluxPeftFileToKohya } from '../lora/flux-to-kohya.js';

/** A config key and why train_flux cannot honour it, or null when the value is one it can. */
interface FluxLimit {
  key: keyof ResolvedConfig;
  isRefused: (config: ResolvedConfig) => boolean;
  why: string;
  hint: string;
}

const FLUX_LIMITS: readonly FluxLimit[] = [
  {
    key: 'network_type',
    isRefused: (config) => config.network_type !== 'lora',
    why: 'Flux trains plain LoRAs only',
    hint: 'set `network_type: lora`',
  },
  {
    key: 'train_text_encoder',
    isRefused: (config) => config.train_text_encoder,
    why: "Flux's text encoders (CLIP-L, T5-XXL) stay frozen",
    hint: 'set `train_text_encoder: false`',
  },
  {
    key: 'init_lora',
    isRefused: (config) => config.init_lora !== null,
    why: 'continuing a LoRA is not implemented for Flux',
    hint: 'remove `init_lora`',
  },
  {
    key: 'reg_data_dir',
    isRefused: (config) => config.reg_data_dir !== null,
    why: 'prior preservation is not implemented for Flux (the class pictures would be trained as style pictures)',
    hint: 'remove `reg_data_dir`',
  },
  {
    key: 'masked_loss',
    isRefused: (config) => config.masked_loss,
    why: 'masked loss is not implemented for Flux',
    hint: 'set `masked_loss: false`',
  },
];

/**
 * Throws a ConfigError naming the first key a Flux run cannot honour; `processes`: how many the launch starts. A
 * Flux transformer file holds no VAE or text encoders, so it needs `flux_components`.
 */
export function checkFluxRun(
  config: ResolvedConfig,
  base: BaseModelVerdict,
  processes: number,
  note: (line: string) => void = () => {},
): void {
  if (base.layout === 'single-file' && config.flux_components === null) {
    throw new ConfigError(
      `${config.base_model} is a Flux transformer file, without the VAE, text encoders and tokenizers`,
      {
        code: 'flux_components_missing',
        culprit: 'flux_components',
        hint: 'set `flux_components` to a diffusers FLUX.1 folder (e.g. a download of black-forest-labs/FLUX.1-dev), or give that folder as `base_model`',
      },
    );
  }
  const limit = FLUX_LIMITS.find((candidate) => candidate.isRefused(config));
  if (limit) {
    throw new ConfigError(`\`${limit.key}\` is not supported with a Flux base model: ${limit.why}`, {
      code: 'flux_unsupported',
      culprit: limit.key,
      hint: limit.hint,
    });
  }
  if (processes > 1) {
    throw new ConfigError(`\`devices\` starts ${processes} processes; Flux trains in one process only`, {
      code: 'flux_unsupported',
      culprit: 'devices',
      hint: 'set `devices: single` (or one GPU index)',
    });
  }
  const ignored = fluxIgnoredKeysNote(config);
  if (ignored) note(`warning: ${ignored}`);
}

// SD-only settings train_flux does not read: set, they are named in one note rather than silently dropped.
const FLUX_IGNORED_KEYS = [
  'prediction_type',
  'noise_offset',
  'adaptive_noise_scale',
  'multires_noise_iterations',
  'zero_terminal_snr',
  'min_snr_gamma',
  'ema_decay',
  'unet_block_lr',
  'unet_block_rank',
  'sample_prompts',
  'validation_split',
  'validation_dir',
  'torch_compile',
] as const satisfies ReadonlyArray<keyof ResolvedConfig>;

/** The note for SD-only keys set away from their defaults in a Flux run, or null when none is. */
export function fluxIgnoredKeysNote(config: ResolvedConfig): string | null {
  const set = FLUX_IGNORED_KEYS.filter(
    (key) => JSON.stringify(config[key]) !== JSON.stringify(configSchema.shape[key].parse(undefined)),
  );
  if (set.length === 0) return null;
  return `Flux: ${set.map((key) => `\`${key}\``).join(', ')} ${set.length === 1 ? 'is' : 'are'} not used by Flux training (docs/formats/flux.md §7)`;
}

export interface KohyaLoraWrite {
  /** The engine's diffusers-format file. */
  input: string;
  output: string;
  family: BaseFamily | 'flux';
  metadata: Readonly<Record<string, string>>;
  layersPerBlock?: number;
}

/** The kohya file of a run's LoRA: Flux's fused names (flux-keys.ts), or the SD ones (to-kohya.ts). */
export async function writeKohyaLora(write: KohyaLoraWrite): Promise<void> {
  const { family, ...file } = write;
  if (family === 'flux') {
    await convertFluxPeftFileToKohya({ input: file.input, output: file.output, metadata: file.metadata });
    return;
  }
  await convertPeftFileToKohya({ ...file, family });
}

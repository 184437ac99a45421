// Fills the derived defaults ("auto" values that depend on other keys or on the file system) and makes paths absolute.
// Pure: the caller passes the working directory and a file-existence check.
import { basename, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { AUTO_KEYS, type AutoKey, type AutoValues, type ParsedConfig } from './schema.js';

/** The config the rest of the program receives: every path absolute, every derived default filled. */
type DerivedKey =
  | 'lora_alpha'
  | 'target_modules'
  | 'output_dir'
  | 'output_name'
  | 'text_encoder_lr'
  | 'text_encoder_2_lr'
  | AutoKey;
/** Keys set to `auto` hold their recommended number. */
export interface ResolvedConfig extends Omit<ParsedConfig, DerivedKey>, Record<AutoKey, number> {
  lora_alpha: number;
  target_modules: string[];
  output_dir: string;
  output_name: string;
  text_encoder_lr: number;
  text_encoder_2_lr: number;
  sample_every_n_steps: number | null;
}

export interface ResolveContext {
  cwd: string;
  isFile: (path: string) => boolean;
  /** Values for keys set to `auto` (train/recommend.ts); a key set to `auto` without one is an error. */
  autoValues?: AutoValues;
}

/** The keys this config leaves to a recommendation. */
export function autoKeysOf(config: ParsedConfig): AutoKey[] {
  return AUTO_KEYS.filter((key) => config[key] === 'auto');
}

function fillAutoKeys(config: ParsedConfig, values: AutoValues = {}): Record<AutoKey, number> {
  const pick = (key: AutoKey): number => {
    const value = config[key];
    if (value !== 'auto') return value;
    const recommended = values[key];
    if (recommended === undefined) {
      throw new ConfigError(`\`${key}: auto\` needs the dataset and the device to be filled in`, {
        code: 'auto_unresolved',
        culprit: key,
        hint: 'only `lora-scripts train` and `lora-scripts recommend` fill in `auto`; give a number here',
      });
    }
    return recommended;
  };
  return Object.fromEntries(AUTO_KEYS.map((key) => [key, pick(key)])) as Record<AutoKey, number>;
}

/** `resume` values that name no folder: the newest state in `<output_dir>/states/`. */
export const RESUME_KEYWORDS: readonly string[] = ['latest', 'auto'];

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

/** A hub id is `owner/name` that is not an existing local path. */
export function looksLikeHubId(value: string, ctx: ResolveContext): boolean {
  return (
    HUB_ID.test(value) &&
    !value.startsWith('.') &&
    !ctx.isFile(resolve(ctx.cwd, value)) &&
    !/\.(safetensors|ckpt|pt|bin)$/i.test(value)
  );
}

export function resolveConfig(config: ParsedConfig, ctx: ResolveContext): ResolvedConfig {
  const abs = (p: string) => resolve(ctx.cwd, p);
  const trainDataDir = abs(config.train_data_dir);
  const outputDir = abs(config.output_dir ?? `output/${basename(trainDataDir)}`);
  const defaultMetadata = resolve(trainDataDir, 'metadata.csv');
  const metadataPath =
    config.metadata_path !== null ? abs(config.metadata_path) : ctx.isFile(defaultMetadata) ? defaultMetadata : null;
  const auto = fillAutoKeys(config, ctx.autoValues);
  return {
    ...config,
    ...auto,
    validation_dir: config.validation_dir === null ? null : abs(config.validation_dir),
    train_data_dir: trainDataDir,
    metadata_path: metadataPath,
    base_model: looksLikeHubId(config.base_model, ctx) ? config.base_model : abs(config.base_model),
    init_lora: config.init_lora === null ? null : abs(config.init_lora),
    resume: config.resume === null || RESUME_KEYWORDS.includes(config.resume) ? config.resume : abs(config.resume),
    lora_alpha: config.lora_alpha ?? 2 * auto.lora_rank,
    target_modules: typeof config.target_modules === 'string' ? [config.target_modules] : config.target_modules,
    output_dir: outputDir,
    output_name: config.output_name ?? basename(outputDir),
    text_encoder_lr: config.text_encoder_lr ?? auto.learning_rate,
    text_encoder_2_lr: config.text_encoder_2_lr ?? config.text_encoder_lr ?? auto.learning_rate,
    flux_components: config.flux_components === null ? null : abs(config.flux_components),
    sample_every_n_steps: config.sample_every_n_steps ?? (config.save_steps > 0 ? config.save_steps : null),
  };
}

// The config shell: reads the YAML file, validates it with the CLI overrides, checks the paths it names exist.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { resolveConfig, type ResolvedConfig } from './resolve.js';
import type { AutoValues, ParsedConfig } from './schema.js';
import { validateConfig, type ConfigOverride } from './validate.js';

export interface LoadConfigOptions {
  /** Config file path as the user typed it; `undefined` means flags only. */
  file?: string;
  overrides?: ConfigOverride[];
  cwd: string;
  /** Values for keys the config sets to `auto` (train/recommend.ts). */
  autoValues?: AutoValues;
}

/** The `isFile` of the resolver's context: a path that is a file (false for a folder or nothing). */
export function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function readConfigText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw new ConfigError('config file not found', {
      code: 'config_missing',
      culprit: file,
      hint: 'check the `--config` path; relative paths start from the current folder',
    });
  }
}

/** The validated config before derived defaults and `auto` are filled in (what a recommendation starts from). */
export function readConfig(options: LoadConfigOptions): ParsedConfig {
  const text = options.file ? readConfigText(options.file) : '{}';
  return validateConfig({ file: options.file ?? 'command line', text, overrides: options.overrides });
}

export function loadConfig(options: LoadConfigOptions): ResolvedConfig {
  const parsed = readConfig(options);
  const config = resolveConfig(parsed, { cwd: options.cwd, isFile, autoValues: options.autoValues });
  checkPaths(config, options.file ?? 'command line');
  return config;
}

function checkPaths(config: ResolvedConfig, file: string): void {
  if (!existsSync(config.train_data_dir) || !statSync(config.train_data_dir).isDirectory()) {
    throw new ConfigError(`\`train_data_dir\` folder not found: ${config.train_data_dir}`, {
      code: 'path_missing',
      culprit: file,
      hint: 'relative paths start from the folder you run lora-scripts in',
    });
  }
  if (config.metadata_path !== null && !isFile(config.metadata_path)) {
    throw new ConfigError(`\`metadata_path\` file not found: ${config.metadata_path}`, {
      code: 'path_missing',
      culprit: file,
      hint: 'fix the path, or remove `metadata_path` to read `.txt` captions beside the images',
    });
  }
  if (config.init_lora !== null && !isFile(config.init_lora)) {
    throw new ConfigError(`\`init_lora\` file not found: ${config.init_lora}`, {
      code: 'path_missing',
      culprit: file,
      hint: 'point `init_lora` at the `.safetensors` LoRA to continue',
    });
  }
  if (
    config.validation_dir !== null &&
    (!existsSync(config.validation_dir) || !statSync(config.validation_dir).isDirectory())
  ) {
    throw new ConfigError(`\`validation_dir\` folder not found: ${config.validation_dir}`, {
      code: 'path_missing',
      culprit: file,
      hint: 'fix the path, or use `validation_split: 0.1` to hold out part of `train_data_dir` instead',
    });
  }
  if (config.base_model.startsWith('/') && !existsSync(config.base_model)) {
    throw new ConfigError(`\`base_model\` not found: ${config.base_model}`, {
      code: 'path_missing',
      culprit: file,
      hint: 'point `base_model` at a `.safetensors` checkpoint or a diffusers folder',
    });
  }
}

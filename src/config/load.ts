// The config shell: reads the YAML file, validates it with the CLI overrides, checks the paths it names exist.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../errors.js';
import { resolveConfig, type ResolvedConfig } from './resolve.js';
import { validateConfig, type ConfigOverride } from './validate.js';

export interface LoadConfigOptions {
  /** Config file path as the user typed it; `undefined` means flags only. */
  file?: string;
  overrides?: ConfigOverride[];
  cwd: string;
}

function isFile(path: string): boolean {
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

export function loadConfig(options: LoadConfigOptions): ResolvedConfig {
  const text = options.file ? readConfigText(options.file) : '{}';
  const parsed = validateConfig({ file: options.file ?? 'command line', text, overrides: options.overrides });
  const config = resolveConfig(parsed, { cwd: options.cwd, isFile });
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
  if (config.base_model.startsWith('/') && !existsSync(config.base_model)) {
    throw new ConfigError(`\`base_model\` not found: ${config.base_model}`, {
      code: 'path_missing',
      culprit: file,
      hint: 'point `base_model` at a `.safetensors` checkpoint or a diffusers folder',
    });
  }
}

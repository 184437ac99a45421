// A train job's config: the CLI's own schema on the JSON object, every path confined to the workspace.
import {
  AUTO_KEYS,
  type AutoValues,
  CONFIG_KEYS,
  isFile,
  looksLikeHubId,
  metaOf,
  type ParsedConfig,
  RESUME_KEYWORDS,
  type ResolvedConfig,
  resolveConfig,
  validateConfig,
} from '../../config/index.js';
import { resolveInWorkspace } from '../security/index.js';

/** What config errors name as the file; the CLI names the YAML file there. */
const CONFIG_SOURCE = 'config';

const PATH_KEYS = CONFIG_KEYS.filter((key) => metaOf(key).isPath);

/**
 * `config` validated exactly as `train --config` validates its YAML (JSON is YAML, so the same parser names the key
 * at fault), with each path resolved inside `workspace`; `resume` replaces the config's own (a resumed job's `auto`).
 * Throws ConfigError (400) or RequestRefused (400/403 for a path).
 */
export function resolveTrainConfig(
  config: Record<string, unknown>,
  workspace: string,
  resume: string | null = null,
  autoValues?: AutoValues,
): ResolvedConfig {
  return resolveCheckedTrainConfig(checkTrainConfig(config, workspace, resume), workspace, autoValues);
}

/** A config `checkTrainConfig` returned, resolved with the `auto` values filled in (no second validation). */
export function resolveCheckedTrainConfig(
  checked: ParsedConfig,
  workspace: string,
  autoValues?: AutoValues,
): ResolvedConfig {
  return resolveConfig(checked, { cwd: workspace, isFile, autoValues });
}

/** The config validated and its paths confined, `auto` values left as they are (the executor fills them in). */
export function checkTrainConfig(
  config: Record<string, unknown>,
  workspace: string,
  resume: string | null = null,
): ParsedConfig {
  const parsed = validateConfig({ file: CONFIG_SOURCE, text: JSON.stringify(config) });
  const confined = confinePaths({ ...parsed, resume: resume ?? parsed.resume }, workspace);
  // The rest of resolving (derived keys) is checked now too, with stand-ins for `auto`: the real values come from the
  // dataset and device when the job starts, as `train` fills them in at its start.
  resolveConfig(confined, { cwd: workspace, isFile, autoValues: AUTO_STAND_INS });
  return confined;
}

/** Valid for every `auto` key, used only to check the rest of a config before its job runs. */
const AUTO_STAND_INS: AutoValues = Object.fromEntries(AUTO_KEYS.map((key) => [key, 1]));

function confinePaths(config: ParsedConfig, workspace: string): ParsedConfig {
  const context = { cwd: workspace, isFile };
  const confined: Record<string, unknown> = { ...config };
  for (const key of PATH_KEYS) {
    const value = config[key];
    if (typeof value !== 'string') continue;
    // A hub id (`owner/model`) is downloaded, not read from the workspace.
    if (key === 'base_model' && looksLikeHubId(value, context)) continue;
    confined[key] = resolveInWorkspace(workspace, value);
  }
  if (config.resume !== null && !RESUME_KEYWORDS.includes(config.resume)) {
    confined.resume = resolveInWorkspace(workspace, config.resume);
  }
  return confined as ParsedConfig;
}

// CLI flags and `--set key=value` → config overrides. Every schema key is a flag; values are read as YAML scalars.
import { parse as parseYaml } from 'yaml';
import {
  CONFIG_KEYS,
  flagName,
  LIST_KEYS,
  metaOf,
  suggestKey,
  type ConfigOverride,
  type ParsedConfig,
} from '../config/index.js';
import { UsageError } from '../errors.js';

function camel(key: string): string {
  return key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** `"8"` → 8, `"[to_q, to_v]"` → array, `"q_proj,v_proj"` → array for list keys, anything else stays text. */
export function parseFlagValue(key: keyof ParsedConfig, raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  if (LIST_KEYS.includes(key) && !raw.trim().startsWith('[')) {
    // Prompts hold commas, module names never do.
    return metaOf(key).isCommaListFlag
      ? raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
      : [raw];
  }
  try {
    return parseYaml(raw) as unknown;
  } catch {
    return raw;
  }
}

function isConfigKey(key: string): key is keyof ParsedConfig {
  return (CONFIG_KEYS as string[]).includes(key);
}

/** Config-key flags (`--lora-rank 8`, as cac gives them) and `--set key=value` entries → overrides, flags first. */
export function collectOverrides(flags: Record<string, unknown>, sets: readonly string[] = []): ConfigOverride[] {
  const overrides: ConfigOverride[] = [];
  for (const key of CONFIG_KEYS) {
    const given = flags[camel(key)];
    // A flag with an optional value (`--resume`) is `true` when given alone.
    const value = given === true ? (metaOf(key).bareFlagValue ?? given) : given;
    if (value !== undefined) overrides.push({ key, value: parseFlagValue(key, value), source: `--${flagName(key)}` });
  }
  for (const entry of sets) {
    const eq = entry.indexOf('=');
    const key = eq > 0 ? entry.slice(0, eq).trim() : '';
    if (!key)
      throw new UsageError(`\`--set ${entry}\` must look like \`--set key=value\``, {
        code: 'usage',
        culprit: '--set',
      });
    if (!isConfigKey(key)) {
      const suggestion = suggestKey(key);
      throw new UsageError(`\`${key}\` is not a config key`, {
        code: 'unknown_key',
        culprit: `--set ${entry}`,
        hint: suggestion
          ? `did you mean \`${suggestion}\`? \`lora-scripts config keys\` lists every key`
          : '`lora-scripts config keys` lists every key',
      });
    }
    overrides.push({ key, value: parseFlagValue(key, entry.slice(eq + 1)), source: `--set ${key}` });
  }
  return overrides;
}

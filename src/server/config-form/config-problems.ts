// Every problem `train --config` would find in a config's keys and values, not only the first: the CLI's own validator,
// asked again with each culprit set aside. Pure.
import { parse as parseYaml } from 'yaml';
import { CONFIG_KEYS, configSchema, metaOf, type ParsedConfig, validateConfig } from '../../config/index.js';
import { ConfigError } from '../../errors.js';

/** One thing wrong with a config, as the form shows it beside its field. */
export interface ConfigProblem {
  /** The config key at fault (an unknown key names itself). */
  field: string;
  code: string;
  /** One line in plain words; it names the key, never a server path. */
  message: string;
  /** What to do about it. */
  hint: string;
  /** Whether training would refuse to start (true) or would start with it (false). */
  blocking: boolean;
}

export interface ConfigCheck {
  problems: ConfigProblem[];
  /**
   * The config validated with each key at fault set aside (dropped to its default, or a required one set to its schema
   * example): what the checks after this one read, skipping `failedKeys`. null when no stand-in could make it pass.
   */
  config: ParsedConfig | null;
  /** The keys with a problem, so later checks leave what they depend on alone. */
  failedKeys: ReadonlySet<string>;
}

export interface ConfigCheckOptions {
  /** A draft may leave required keys out (the YAML export, the import): their absence is not a problem then. */
  allowMissingRequired?: boolean;
}

/** What the validator names as the file; the messages it builds never show it (see problemOf). */
const SOURCE = 'config';
const DEFAULT_HINT = 'see `lora-scripts config keys` for what each key accepts';

/**
 * Runs the CLI's validator (config/validate.ts) until the config passes: each time it stops at a key, that key is
 * noted and set aside (an unknown or defaulted key is dropped, a required one gets its schema example), and it runs
 * again. The messages are the CLI's own; the key each names comes from the same first schema issue the validator reads.
 */
export function checkConfigValues(
  config: Readonly<Record<string, unknown>>,
  options: ConfigCheckOptions = {},
): ConfigCheck {
  const values: Record<string, unknown> = { ...config };
  const problems: ConfigProblem[] = [];
  const failedKeys = new Set<string>();
  // Each round removes or replaces one key, so this many rounds always reach a config that passes or cannot be fixed.
  const rounds = Object.keys(values).length + CONFIG_KEYS.length + 1;
  for (let round = 0; round < rounds; round++) {
    let error: ConfigError;
    try {
      const parsed = validateConfig({ file: SOURCE, text: JSON.stringify(values) });
      return { problems, config: parsed, failedKeys };
    } catch (thrown) {
      if (!(thrown instanceof ConfigError)) throw thrown;
      error = thrown;
    }
    const key = firstFailingKey(values);
    if (key === null) break;
    const isMissing = error.code === 'missing_key';
    if (!failedKeys.has(key) && !(isMissing && options.allowMissingRequired)) problems.push(problemOf(error, key));
    if (!(isMissing && options.allowMissingRequired)) failedKeys.add(key);
    if (!setAside(values, key)) break;
  }
  return { problems, config: null, failedKeys };
}

/** The key of the schema's first issue: the one validate.ts turns into its error. */
function firstFailingKey(values: Record<string, unknown>): string | null {
  const result = configSchema.safeParse(values);
  if (result.success) return null;
  const issue = result.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') return issue.keys[0] ?? null;
  const key = issue.path[0];
  return key === undefined ? null : String(key);
}

/** Drops the key, or puts a valid stand-in where the schema has no default; false when nothing valid can stand in. */
function setAside(values: Record<string, unknown>, key: string): boolean {
  const isKnown = (CONFIG_KEYS as readonly string[]).includes(key);
  const schema = isKnown ? configSchema.shape[key as keyof ParsedConfig] : undefined;
  if (schema === undefined || schema.safeParse(undefined).success) {
    delete values[key];
    return true;
  }
  const example = metaOf(key as keyof ParsedConfig).example;
  const standIn: unknown = example === undefined ? undefined : parseYaml(example);
  if (!schema.safeParse(standIn).success) return false;
  values[key] = standIn;
  return true;
}

/** The validator's error as a problem: its message without the `config:1:57` locator, which means nothing to a form. */
export function problemOf(error: ConfigError, field: string): ConfigProblem {
  return { field, code: error.code, message: error.message, hint: error.hint ?? DEFAULT_HINT, blocking: true };
}

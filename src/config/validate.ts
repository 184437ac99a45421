// YAML text + CLI overrides → ParsedConfig, or one ConfigError naming `file:line:col`, the key and what is allowed.
// Pure: the caller reads the file and passes its text.
import { closest } from 'fastest-levenshtein';
import { isMap, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.js';
import { describeAllowed, flagName } from './reference.js';
import { CONFIG_KEYS, configSchema, type ParsedConfig } from './schema.js';

/** One value set on the command line; `source` is what the user typed (`--lora-rank`, `--set lora_rank=8`). */
export interface ConfigOverride {
  key: string;
  value: unknown;
  source: string;
}

export interface ConfigSource {
  /** Path as the user wrote it, used in messages. */
  file: string;
  text: string;
  overrides?: ConfigOverride[];
}

const KEYS_HINT = '`lora-scripts config keys` lists every key';

export function validateConfig(source: ConfigSource): ParsedConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(source.text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const pos = lineCounter.linePos(yamlError.pos[0]);
    const where = `${source.file}:${pos.line}:${pos.col}`;
    throw new ConfigError(`not valid YAML: ${yamlError.message.split('\n')[0]}`, {
      code: 'yaml_syntax',
      culprit: where,
      hint: 'check the indentation and quoting on that line',
    });
  }
  const raw: unknown = doc.toJS() ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError('must be a mapping of `key: value` lines', { code: 'not_a_mapping', culprit: source.file });
  }
  const values: Record<string, unknown> = { ...(raw as Record<string, unknown>) };
  const overrideSources = new Map<string, string>();
  for (const override of source.overrides ?? []) {
    values[override.key] = override.value;
    overrideSources.set(override.key, override.source);
  }
  const result = configSchema.safeParse(values);
  if (result.success) return result.data;
  const locate = (key: string, atValue = true) =>
    overrideSources.get(key) ?? locateKey(doc, lineCounter, source.file, key, atValue);
  throw issueToError(result.error.issues[0]!, values, locate);
}

function locateKey(doc: Document, lineCounter: LineCounter, file: string, key: string, valueNode = true): string {
  if (!isMap(doc.contents)) return file;
  const pair = doc.contents.items.find((item) => isScalar(item.key) && item.key.value === key);
  if (!pair) return file;
  const node = (valueNode && pair.value ? pair.value : pair.key) as { range?: [number, number, number] } | null;
  const offset = node?.range?.[0];
  if (offset === undefined) return file;
  const pos = lineCounter.linePos(offset);
  return `${file}:${pos.line}:${pos.col}`;
}

/** Near-miss suggestion for an unknown key: `lora_rnak` → `lora_rank`. */
export function suggestKey(unknown: string): string | undefined {
  const candidate = closest(unknown, CONFIG_KEYS);
  return levenshteinWithin(unknown, candidate, Math.max(2, Math.floor(unknown.length / 3))) ? candidate : undefined;
}

function levenshteinWithin(a: string, b: string, limit: number): boolean {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]! <= limit;
}

function formatValue(value: unknown): string {
  return value === undefined ? 'nothing' : `\`${JSON.stringify(value)}\``;
}

type Locate = (key: string, atValue?: boolean) => string;

function issueToError(issue: z.core.$ZodIssue, values: Record<string, unknown>, locate: Locate): ConfigError {
  if (issue.code === 'unrecognized_keys') {
    const unknownKey = issue.keys[0]!;
    const suggestion = suggestKey(unknownKey);
    return new ConfigError(`\`${unknownKey}\` is not a config key`, {
      code: 'unknown_key',
      culprit: locate(unknownKey, false),
      hint: suggestion ? `did you mean \`${suggestion}\`? ${KEYS_HINT}` : KEYS_HINT,
    });
  }
  const key = String(issue.path[0] ?? '');
  if (!(CONFIG_KEYS as string[]).includes(key)) {
    return new ConfigError(issue.message, { code: 'invalid_config', culprit: locate(key) });
  }
  const typedKey = key as keyof ParsedConfig;
  const value = values[key];
  if (value === undefined) {
    return new ConfigError(`\`${key}\` is required`, {
      code: 'missing_key',
      culprit: locate(key),
      hint: `add \`${key}: …\` to the config or pass \`--${flagName(key)}\``,
    });
  }
  const element = issue.path.length > 1 ? `[${String(issue.path[1])}]` : '';
  // Our own schema messages start with "must" and say more than the generic range phrase.
  const rule = issue.message.startsWith('must') ? issue.message : `must be ${describeAllowed(typedKey)}`;
  return new ConfigError(`\`${key}${element}\` ${rule}, got ${formatValue(value)}`, {
    code: 'invalid_value',
    culprit: locate(key),
    hint: `fix the value, or see \`lora-scripts config keys\` for what \`${key}\` accepts`,
  });
}

// The training form's pure side: fields in groups, what a typed value means, the config a form sends.
import type { ConfigField } from '../api/types.js';

export const AUTO = 'auto';

export function groupFields(fields: readonly ConfigField[]): { group: string; fields: ConfigField[] }[] {
  const groups = new Map<string, ConfigField[]>();
  for (const field of fields) {
    const list = groups.get(field.group) ?? [];
    list.push(field);
    groups.set(field.group, list);
  }
  return [...groups].map(([group, list]) => ({ group, fields: list }));
}

/** The form's starting values: each field's default, with the page's own starting points laid over them. */
export function initialValues(fields: readonly ConfigField[], overrides: Record<string, unknown> = {}) {
  const values: Record<string, unknown> = {};
  for (const field of fields) values[field.key] = field.key in overrides ? overrides[field.key] : field.default;
  return values;
}

export type ParsedInput = { ok: true; value: unknown } | { ok: false; reason: 'number' | 'integer' | 'min' | 'max' };

/** What the text of an input means for its field; '' is "not set" (undefined), `auto` stays auto where accepted. */
export function parseFieldInput(field: ConfigField, raw: string | boolean): ParsedInput {
  if (field.type === 'boolean') return { ok: true, value: Boolean(raw) };
  const text = String(raw);
  if (field.accepts_auto && text.trim().toLowerCase() === AUTO) return { ok: true, value: AUTO };
  if (field.type === 'list') {
    const items = text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');
    // A preset (`attention+ff`) is a value of its own, not a one-item list.
    const only = items[0];
    if (items.length === 1 && only !== undefined && field.presets?.includes(only)) return { ok: true, value: only };
    return { ok: true, value: items };
  }
  if (field.type === 'number' || field.type === 'integer') {
    if (text.trim() === '') return { ok: true, value: undefined };
    const value = Number(text);
    if (!Number.isFinite(value)) return { ok: false, reason: 'number' };
    if (field.type === 'integer' && !Number.isInteger(value)) return { ok: false, reason: 'integer' };
    if (field.min !== undefined && (value < field.min || (field.min_exclusive === true && value === field.min)))
      return { ok: false, reason: 'min' };
    if (field.max !== undefined && value > field.max) return { ok: false, reason: 'max' };
    return { ok: true, value };
  }
  if (field.type === 'enum') {
    const choice = field.choices?.find((c) => String(c) === text);
    return { ok: true, value: choice ?? (text === '' ? undefined : text) };
  }
  return { ok: true, value: text === '' ? undefined : text };
}

/** A value as the input shows it: lists one per line, null/undefined as empty. */
export function formatFieldValue(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join('\n');
  return String(value);
}

/**
 * The config the form sends: every field set to something other than its default, and every required one, so the
 * saved job (and the exported YAML) says what the user chose and nothing more.
 */
export function configFromValues(
  fields: readonly ConfigField[],
  values: Record<string, unknown>,
): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.key];
    if (value === undefined || value === null || value === '') continue;
    if (!field.required && sameValue(value, field.default)) continue;
    config[field.key] = value;
  }
  // Keys the form has no field for (from an imported YAML) travel as they are: the server judges them.
  const known = new Set(fields.map((field) => field.key));
  for (const [key, value] of Object.entries(values)) if (!known.has(key) && value !== undefined) config[key] = value;
  return config;
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The form's default output folder: `output/<output_name>` (the contract's convention) while the user left it. */
export function defaultOutputDir(outputName: unknown): string | undefined {
  return typeof outputName === 'string' && outputName.trim() !== '' ? `output/${outputName.trim()}` : undefined;
}

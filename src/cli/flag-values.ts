// A command's flags as one table of zod schemas: cac's parsed flags in, typed values out, or one UsageError naming
// the flag (`error: --seed: must be an integer from 0 to 4294967295, got "abc"`), as config keys are reported.
// Pure: main.ts registers the table with cac, the command parses what cac gives.
import { z } from 'zod';
import { describeValues } from '../config/index.js';
import { UsageError } from '../errors.js';

export interface FlagSpec<S extends z.ZodType = z.ZodType> {
  schema: S;
  help: string;
  /** cac's value placeholder (`<n>`, `<file>`); a switch has none. */
  value?: string;
  /** Declared as `--no-<name>`: cac gives `false` when it is given, `true` otherwise. */
  isNegated?: boolean;
}

/** Flags by the camelCase name cac gives them (`--dry-run` → `dryRun`). */
export type FlagTable = Record<string, FlagSpec>;

export interface CommandFlags<T extends FlagTable> {
  /** The command as typed (`make-checkpoint`): the culprit of a missing flag, and its `--help`. */
  command: string;
  flags: T;
  /** A usage example for the hint; without one the hint points at `--help`. */
  example?: string;
}

export type FlagValues<T extends FlagTable> = { [K in keyof T]: z.output<T[K]['schema']> };

export function defineFlags<T extends FlagTable>(command: string, flags: T, example?: string): CommandFlags<T> {
  return { command, flags, ...(example ? { example } : {}) };
}

// cac (through mri) turns number-like values into numbers, `--out 123` too; text flags turn them back.
const asText = (value: unknown): unknown => (typeof value === 'number' ? String(value) : value);
const asNumber = (value: unknown): unknown =>
  typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
const asList = (value: unknown): unknown => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** A non-empty text value (a path, a name, a prompt). */
export const text = () => z.preprocess(asText, z.string().min(1, 'must not be empty'));
/** Text that may be empty (`--negative-prompt ""`). */
export const anyText = () => z.preprocess(asText, z.string());
/** A number flag with any zod number schema (`numeric(z.int().min(64).multipleOf(8))`). */
export const numeric = <T extends z.ZodType>(schema: T) => z.preprocess(asNumber, schema);
export const integer = (min: number, max: number) => numeric(z.int().min(min).max(max));
export const decimal = (min: number, max: number) => numeric(z.number().min(min).max(max));
/** A repeatable flag: absent gives `[]`, once gives one item. */
export const list = <T extends z.ZodType>(item: T) => z.preprocess(asList, z.array(item));
/** A switch: `--json` alone. */
export const toggle = () => z.boolean().default(false);

/** `dryRun` → `--dry-run`. */
export function flagOf(name: string): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** How cac declares the flag: `--seed <n>`, `--json`, `--no-hash`. */
export function cacFlag(name: string, flag: FlagSpec): string {
  if (flag.isNegated) return `--no-${flagOf(name).slice(2)}`;
  return flag.value ? `${flagOf(name)} ${flag.value}` : flagOf(name);
}

/** The help line: the text, then what the value may be and its default, both from the schema. */
export function flagHelp(flag: FlagSpec): string {
  const allowed = describeValues(flag.schema);
  const isPlain = !flag.value || /^a (list of )?text values?$/.test(allowed);
  const byDefault = flag.schema instanceof z.ZodDefault ? (flag.schema.def.defaultValue as unknown) : undefined;
  const facts = [
    ...(isPlain ? [] : [allowed]),
    ...(byDefault === undefined || flag.isNegated || !flag.value ? [] : [`default: ${String(byDefault)}`]),
  ];
  return facts.length > 0 ? `${flag.help} (${facts.join('; ')})` : flag.help;
}

/** cac's flags → the table's typed values; the first bad or missing flag is one UsageError. */
export function parseFlags<T extends FlagTable>(spec: CommandFlags<T>, given: Record<string, unknown>): FlagValues<T> {
  const values: Record<string, unknown> = {};
  for (const [name, flag] of Object.entries(spec.flags)) {
    const result = flag.schema.safeParse(given[name]);
    if (!result.success) throw flagError(spec, name, given[name], result.error.issues[0]!);
    values[name] = result.data;
  }
  return values as FlagValues<T>;
}

// A copy of config/validate.ts formatValue: flag values are shown as config values are.
function formatValue(value: unknown): string {
  return `\`${JSON.stringify(value)}\``;
}

function flagError(spec: CommandFlags<FlagTable>, name: string, value: unknown, issue: z.core.$ZodIssue): UsageError {
  const flag = spec.flags[name]!;
  const hint = spec.example ?? `\`lora-scripts ${spec.command} --help\` lists its flags and what they accept`;
  if (value === undefined) {
    return new UsageError(`\`${cacFlag(name, flag)}\` is required`, {
      code: 'missing_flag',
      culprit: spec.command,
      hint,
    });
  }
  // Our own messages start with "must" and say more than the generic phrase.
  const rule = issue.message.startsWith('must') ? issue.message : `must be ${describeValues(flag.schema)}`;
  return new UsageError(`${rule}, got ${formatValue(value)}`, { code: 'invalid_flag', culprit: flagOf(name), hint });
}

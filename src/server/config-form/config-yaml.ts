// A form's config to and from the YAML that `lora-scripts train --config` reads: keys in schema order with each key's
// help as a comment on the way out; on the way in, the first bad line or key named. Pure.
import { isMap, isScalar, LineCounter, parseDocument, Document, type Pair } from 'yaml';
import { CONFIG_KEYS, metaOf, type ParsedConfig } from '../../config/index.js';
import { checkConfigValues, type ConfigProblem } from './config-problems.js';

const COMMENT_WIDTH_CHARS = 100;
const HEADER =
  ' lora-scripts train config: `lora-scripts train --config <this file>` (paths are relative to the workspace)';

/** A problem in a YAML text, with the line it is on (1-based) when one can be named. */
export interface YamlProblem extends ConfigProblem {
  line: number | null;
}

export type YamlExport = { yaml: string } | { problem: ConfigProblem };
export type YamlImport = { config: Record<string, unknown> } | { problem: YamlProblem };

/**
 * The config as YAML: the keys it sets, in schema order, each under its help text; a key's group starts a section.
 * Refuses what `train --config` would refuse (an unknown key, a value out of range); a draft may leave required keys out.
 */
export function configToYaml(config: Readonly<Record<string, unknown>>): YamlExport {
  const first = checkConfigValues(config, { allowMissingRequired: true }).problems[0];
  if (first) return { problem: first };
  const keys = CONFIG_KEYS.filter((key) => config[key] !== undefined);
  const doc = new Document(Object.fromEntries(keys.map((key) => [key, config[key]])));
  doc.commentBefore = HEADER;
  let group: string | null = null;
  const pairs = isMap(doc.contents) ? (doc.contents.items as Pair[]) : [];
  for (const pair of pairs) {
    if (!isScalar(pair.key)) continue;
    const meta = metaOf(pair.key.value as keyof ParsedConfig);
    const section = meta.group === group ? [] : [` -- ${meta.group}`];
    group = meta.group;
    pair.key.commentBefore = [...section, ...wrapComment(meta.description)].join('\n');
    if (section.length > 0 && pair !== pairs[0]) pair.key.spaceBefore = true;
  }
  return { yaml: doc.toString({ lineWidth: 0 }) };
}

/** Lines of at most COMMENT_WIDTH_CHARS, each starting with the space YAML puts after `#`. */
function wrapComment(text: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > COMMENT_WIDTH_CHARS) {
      lines.push(` ${line}`);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(` ${line}`);
  return lines;
}

/**
 * The YAML text as a config, exactly the keys and values it sets; or the first problem, naming its line and key: the
 * YAML syntax, a document that is not `key: value` lines, an unknown key, a value `train --config` refuses. Required
 * keys may be missing: the form asks for them.
 */
export function yamlToConfig(text: string): YamlImport {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const syntaxError = doc.errors[0];
  if (syntaxError) {
    const { line, col } = lineCounter.linePos(syntaxError.pos[0]);
    if (syntaxError.code === 'DUPLICATE_KEY') {
      // The error points at the start of the key's second occurrence.
      const key = /^["']?([^"':\s]+)/.exec(text.slice(syntaxError.pos[0]))?.[1] ?? '';
      return {
        problem: {
          field: (CONFIG_KEYS as readonly string[]).includes(key) ? key : 'yaml',
          code: 'duplicate_key',
          message: `line ${line}: \`${key}\` is set twice`,
          hint: 'keep one line per key',
          blocking: true,
          line,
        },
      };
    }
    return {
      problem: {
        field: 'yaml',
        code: 'yaml_syntax',
        message: `line ${line}, column ${col}: not valid YAML: ${syntaxError.message.split('\n')[0]}`,
        hint: 'check the indentation and quoting on that line',
        blocking: true,
        line,
      },
    };
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (error) {
    // The parser accepted it, but building the values failed (too many aliases: a "billion laughs" document).
    const reason = error instanceof Error ? error.message : String(error);
    return {
      problem: {
        field: 'yaml',
        code: 'yaml_unreadable',
        message: `the YAML cannot be read as values: ${reason}`,
        hint: 'write the values out instead of using anchors and aliases',
        blocking: true,
        line: null,
      },
    };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return {
      problem: {
        field: 'yaml',
        code: 'not_a_mapping',
        message: 'the YAML must be a mapping of `key: value` lines',
        hint: 'write one `key: value` per line, e.g. `lora_rank: 16`',
        blocking: true,
        line: 1,
      },
    };
  }
  const config = raw as Record<string, unknown>;
  const first = checkConfigValues(config, { allowMissingRequired: true }).problems[0];
  if (!first) return { config };
  const line = lineOfKey(doc, lineCounter, first.field);
  const where = line === null ? '' : `line ${line}: `;
  return { problem: { ...first, message: `${where}${first.message}`, line } };
}

function lineOfKey(doc: Document, lineCounter: LineCounter, key: string): number | null {
  if (!isMap(doc.contents)) return null;
  const pair = doc.contents.items.find((item) => isScalar(item.key) && item.key.value === key);
  const offset = (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
  return offset === undefined ? null : lineCounter.linePos(offset).line;
}

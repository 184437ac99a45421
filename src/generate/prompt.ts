// Parses WebUI (A1111) prompt syntax: `<lora:NAME:TE[:UNET]>` tags come out as LoRA references, attention
// brackets `(word:1.2)`, `(word)`, `[word]` are removed from the text the encoder sees (weights are not applied yet),
// `BREAK` is dropped. Pure: text in, text + references + warnings out.
import { UsageError } from '../errors.js';

export interface LoraReference {
  /** As written in the tag: a file stem or a LoRA's `ss_output_name`. */
  name: string;
  teWeight: number;
  unetWeight: number;
}

export interface ParsedPrompt {
  /** What the text encoder gets: tags removed, brackets and weights removed, escapes resolved. */
  text: string;
  loras: LoraReference[];
  /** Syntax we read but do not apply (attention weights, BREAK), one sentence each. */
  warnings: string[];
}

// A1111 `modules/extra_networks.py`: network type, then arguments up to `>`.
const EXTRA_NETWORK_TAG = /<(\w+):([^>]+)>/g;
const LORA_TYPES = new Set(['lora', 'lyco']);
const PLAIN_NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;
// A1111 `modules/prompt_parser.py` re_attention: escapes, brackets, `:weight)`, text, a stray colon.
const ATTENTION_TOKEN = /\\\(|\\\)|\\\[|\\\]|\\\\|\\|\(|\[|:\s*([+-]?[.\d]+)\s*\)|\)|\]|[^\\()[\]:]+|:/g;
const PROMPT_EDITING = /\[[^\][]*:[^\][]*\]|\[[^\][]*\|[^\][]*\]/;

/** The positive prompt: LoRA tags are taken out, the rest is cleaned of attention syntax. */
export function parsePrompt(prompt: string, culprit = '--prompt'): ParsedPrompt {
  const loras: LoraReference[] = [];
  const withoutTags = prompt.replace(EXTRA_NETWORK_TAG, (tag: string, type: string, args: string) => {
    if (!LORA_TYPES.has(type)) {
      throw new UsageError(`\`${tag}\`: \`${type}\` networks are not supported`, { code: 'prompt_syntax', culprit, hint: 'only `<lora:NAME:WEIGHT>` (or `<lyco:…>`) tags work here' });
    }
    const reference = parseLoraArguments(tag, args, culprit);
    if (loras.some((l) => l.name === reference.name)) {
      throw new UsageError(`\`<lora:${reference.name}:…>\` appears twice`, { code: 'prompt_syntax', culprit, hint: 'keep one tag per LoRA' });
    }
    loras.push(reference);
    return '';
  });
  const { text, warnings } = stripAttention(withoutTags, culprit);
  return { text, loras, warnings };
}

/** The negative prompt: WebUI reads no LoRA tags there, so a tag is a mistake rather than text to encode. */
export function parseNegativePrompt(prompt: string, culprit = '--negative-prompt'): ParsedPrompt {
  const tag = prompt.match(EXTRA_NETWORK_TAG)?.[0];
  if (tag) {
    throw new UsageError(`\`${tag}\`: LoRA tags work only in the prompt`, { code: 'prompt_syntax', culprit, hint: 'move the tag to `--prompt` (WebUI ignores tags in the negative prompt too)' });
  }
  return { ...stripAttention(prompt, culprit), loras: [] };
}

/** `NAME`, `NAME:W`, `NAME:TE:UNET`, `NAME:te=W:unet=W` (A1111 `ExtraNetworkLora.activate`). */
function parseLoraArguments(tag: string, args: string, culprit: string): LoraReference {
  const positional: string[] = [];
  const named = new Map<string, string>();
  for (const arg of args.split(':')) {
    const parts = arg.split('=');
    if (parts.length === 2) named.set(parts[0]!.trim(), parts[1]!.trim());
    else positional.push(arg.trim());
  }
  const name = positional[0] ?? '';
  if (name === '') throw new UsageError(`\`${tag}\` has no LoRA name`, { code: 'prompt_syntax', culprit, hint: 'write `<lora:NAME:0.7>`' });
  const unknownKey = [...named.keys()].find((key) => key !== 'te' && key !== 'unet');
  if (unknownKey !== undefined || positional.length > 3) {
    const what = unknownKey !== undefined ? `\`${unknownKey}=\`` : 'a fourth value (`dyn`)';
    throw new UsageError(`\`${tag}\`: ${what} is not supported`, { code: 'prompt_syntax', culprit, hint: 'write `<lora:NAME:WEIGHT>` or `<lora:NAME:TE_WEIGHT:UNET_WEIGHT>`' });
  }
  const number = (text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    if (!PLAIN_NUMBER.test(text)) {
      throw new UsageError(`\`${tag}\`: \`${text}\` is not a number`, { code: 'prompt_syntax', culprit, hint: 'weights are plain decimals, e.g. `<lora:NAME:0.7>`' });
    }
    return Number(text);
  };
  const teWeight = number(named.get('te') ?? positional[1], 1);
  const unetWeight = number(named.get('unet') ?? positional[2], teWeight);
  return { name, teWeight, unetWeight };
}

/** Removes attention brackets and weights, keeps the words; says so once when there were any. */
function stripAttention(prompt: string, culprit: string): { text: string; warnings: string[] } {
  const editing = prompt.replace(/\\[[\]]/g, '').match(PROMPT_EDITING)?.[0];
  if (editing) {
    throw new UsageError(`\`${editing}\`: prompt editing and alternation are not supported`, { code: 'prompt_syntax', culprit, hint: 'write the words without `[a:b:when]` or `[a|b]`' });
  }
  let text = '';
  let hasEmphasis = false;
  for (const match of prompt.matchAll(ATTENTION_TOKEN)) {
    const token = match[0];
    if (token.length === 2 && token.startsWith('\\')) text += token[1];
    else if (token === '(' || token === ')' || token === '[' || token === ']' || match[1] !== undefined) hasEmphasis = true;
    else text += token;
  }
  const warnings: string[] = [];
  if (hasEmphasis) warnings.push(`${culprit}: attention weights like \`(word:1.2)\` and \`[word]\` are not applied yet; the words are encoded at weight 1`);
  if (/\bBREAK\b/.test(text)) {
    text = text.replace(/\s*\bBREAK\b\s*/g, ' ');
    warnings.push(`${culprit}: \`BREAK\` is removed; the prompt is encoded as one chunk of up to 75 tokens`);
  }
  return { text: tidy(text), warnings };
}

/** Tag removal leaves `a, , b` and double spaces; encoders see the same words without them. */
function tidy(text: string): string {
  return text
    .replace(/[ \t]+/g, ' ')
    .replace(/\s+,/g, ',')
    .replace(/,(\s*,)+/g, ',')
    .replace(/^[\s,]+|[\s,]+$/g, '');
}

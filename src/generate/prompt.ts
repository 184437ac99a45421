// Parses WebUI (A1111) prompt syntax: `<lora:NAME:TE[:UNET]>` tags come out as LoRA references, attention
// brackets `(word:1.2)`, `(word)` ×1.1, `[word]` ÷1.1 become weighted segments (the engine scales those tokens'
// embeddings, as WebUI does), `BREAK` is dropped. Pure: text in, text + segments + references + warnings out.
import { UsageError } from '../errors.js';

export interface LoraReference {
  /** As written in the tag: a file stem or a LoRA's `ss_output_name`. */
  name: string;
  teWeight: number;
  unetWeight: number;
}

/** A stretch of prompt text and the attention weight of its tokens. */
export interface WeightedSegment {
  text: string;
  weight: number;
}

export interface ParsedPrompt {
  /** What the text encoder gets: tags removed, brackets and weights removed, escapes resolved. */
  text: string;
  /** Only when some weight is not 1: the same words split by attention weight (otherwise `text` is encoded as is). */
  segments?: WeightedSegment[];
  loras: LoraReference[];
  /** Syntax we read but do not apply (BREAK), one sentence each. */
  warnings: string[];
}

// WebUI's factors: `(x)` multiplies the attention of x by 1.1, `[x]` divides it by 1.1, `(x:w)` multiplies it by w.
const ROUND_FACTOR = 1.1;

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
      throw new UsageError(`\`${tag}\`: \`${type}\` networks are not supported`, {
        code: 'prompt_syntax',
        culprit,
        hint: 'only `<lora:NAME:WEIGHT>` (or `<lyco:…>`) tags work here',
      });
    }
    const reference = parseLoraArguments(tag, args, culprit);
    if (loras.some((l) => l.name === reference.name)) {
      throw new UsageError(`\`<lora:${reference.name}:…>\` appears twice`, {
        code: 'prompt_syntax',
        culprit,
        hint: 'keep one tag per LoRA',
      });
    }
    loras.push(reference);
    return '';
  });
  return { ...stripAttention(withoutTags, culprit), loras };
}

/** The negative prompt: WebUI reads no LoRA tags there, so a tag is a mistake rather than text to encode. */
export function parseNegativePrompt(prompt: string, culprit = '--negative-prompt'): ParsedPrompt {
  const tag = prompt.match(EXTRA_NETWORK_TAG)?.[0];
  if (tag) {
    throw new UsageError(`\`${tag}\`: LoRA tags work only in the prompt`, {
      code: 'prompt_syntax',
      culprit,
      hint: 'move the tag to `--prompt` (WebUI ignores tags in the negative prompt too)',
    });
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
  if (name === '')
    throw new UsageError(`\`${tag}\` has no LoRA name`, {
      code: 'prompt_syntax',
      culprit,
      hint: 'write `<lora:NAME:0.7>`',
    });
  const unknownKey = [...named.keys()].find((key) => key !== 'te' && key !== 'unet');
  if (unknownKey !== undefined || positional.length > 3) {
    const what = unknownKey !== undefined ? `\`${unknownKey}=\`` : 'a fourth value (`dyn`)';
    throw new UsageError(`\`${tag}\`: ${what} is not supported`, {
      code: 'prompt_syntax',
      culprit,
      hint: 'write `<lora:NAME:WEIGHT>` or `<lora:NAME:TE_WEIGHT:UNET_WEIGHT>`',
    });
  }
  const number = (text: string | undefined, fallback: number): number => {
    if (text === undefined) return fallback;
    if (!PLAIN_NUMBER.test(text)) {
      throw new UsageError(`\`${tag}\`: \`${text}\` is not a number`, {
        code: 'prompt_syntax',
        culprit,
        hint: 'weights are plain decimals, e.g. `<lora:NAME:0.7>`',
      });
    }
    return Number(text);
  };
  const teWeight = number(named.get('te') ?? positional[1], 1);
  const unetWeight = number(named.get('unet') ?? positional[2], teWeight);
  return { name, teWeight, unetWeight };
}

/**
 * Splits the prompt into weighted segments the way WebUI's attention parser does (a closing bracket multiplies the
 * weight of everything since its opening one; brackets left open apply to the rest), and keeps the plain words.
 */
function stripAttention(
  prompt: string,
  culprit: string,
): { text: string; segments?: WeightedSegment[]; warnings: string[] } {
  const editing = prompt.replace(/\\[[\]]/g, '').match(PROMPT_EDITING)?.[0];
  if (editing) {
    throw new UsageError(`\`${editing}\`: prompt editing and alternation are not supported`, {
      code: 'prompt_syntax',
      culprit,
      hint: 'write the words without `[a:b:when]` or `[a|b]`',
    });
  }
  const segments: WeightedSegment[] = [];
  const openRound: number[] = [];
  const openSquare: number[] = [];
  const multiplyFrom = (start: number, factor: number) => {
    for (const segment of segments.slice(start)) segment.weight *= factor;
  };
  for (const match of prompt.matchAll(ATTENTION_TOKEN)) {
    const token = match[0];
    if (token.length === 2 && token.startsWith('\\')) segments.push({ text: token[1]!, weight: 1 });
    else if (token === '(') openRound.push(segments.length);
    else if (token === '[') openSquare.push(segments.length);
    else if (match[1] !== undefined) openRound.length > 0 && multiplyFrom(openRound.pop()!, Number(match[1]));
    else if (token === ')') openRound.length > 0 && multiplyFrom(openRound.pop()!, ROUND_FACTOR);
    else if (token === ']') openSquare.length > 0 && multiplyFrom(openSquare.pop()!, 1 / ROUND_FACTOR);
    else segments.push({ text: token, weight: 1 });
  }
  for (const start of openRound) multiplyFrom(start, ROUND_FACTOR);
  for (const start of openSquare) multiplyFrom(start, 1 / ROUND_FACTOR);
  const warnings: string[] = [];
  if (segments.some((segment) => /\bBREAK\b/.test(segment.text))) {
    for (const segment of segments) segment.text = segment.text.replace(/\s*\bBREAK\b\s*/g, ' ');
    warnings.push(`${culprit}: \`BREAK\` is removed (it does not start a new 75-token chunk here)`);
  }
  const text = tidy(segments.map((segment) => segment.text).join(''));
  const isWeighted = segments.some((segment) => segment.weight !== 1);
  return isWeighted ? { text, segments: mergeEqualWeights(segments), warnings } : { text, warnings };
}

function mergeEqualWeights(segments: WeightedSegment[]): WeightedSegment[] {
  const merged: WeightedSegment[] = [];
  for (const segment of segments) {
    const last = merged.at(-1);
    if (last && last.weight === segment.weight) last.text += segment.text;
    else if (segment.text !== '') merged.push({ ...segment });
  }
  return merged;
}

/** Tag removal leaves `a, , b` and double spaces; encoders see the same words without them. */
function tidy(text: string): string {
  return text
    .replace(/[ \t]+/g, ' ')
    .replace(/\s+,/g, ',')
    .replace(/,(\s*,)+/g, ',')
    .replace(/^[\s,]+|[\s,]+$/g, '');
}

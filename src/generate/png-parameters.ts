// The WebUI (A1111) "parameters" infotext: build it from generation settings, parse it back, and put it into /
// read it from a PNG text chunk. Pure: strings and bytes in, strings and bytes out. Layout and quoting follow
// A1111 v1.10 `create_infotext` / `parse_generation_parameters`; the chunk follows Pillow's `PngInfo.add_text`.
import { inflateSync } from 'node:zlib';
import { UsageError } from '../errors.js';

export const PARAMETERS_KEY = 'parameters';

export interface LoraHash {
  /** The name as written in the prompt tag. */
  name: string;
  /** 12 hex digits: the LoRA's `sshs_model_hash` (sha256 of its tensor data). */
  hash: string;
}

export interface GenerationParameters {
  prompt: string;
  negativePrompt: string;
  steps: number;
  /** A1111 sampler name (`Euler a`, `DPM++ 2M`…). */
  sampler: string;
  /** `Automatic` (the sampler's own), `Karras`, `Exponential`. */
  scheduleType: string;
  cfgScale: number;
  seed: number;
  width: number;
  height: number;
  /** First 10 hex digits of the base model file's sha256. */
  modelHash: string | null;
  /** The base model's file stem. */
  model: string | null;
  loraHashes: LoraHash[];
  version: string | null;
  /** Every other `Key: value` pair, kept so that a parse → build round trip loses nothing. */
  extra: Record<string, string>;
}

// The A1111 parameter-line regex: a key of words, spaces, `-`, `/`; a JSON-quoted value or text up to a comma.
const PARAMETER = /\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)/g;
const NEGATIVE_PREFIX = 'Negative prompt:';
const KNOWN_KEYS = new Set([
  'Steps',
  'Sampler',
  'Schedule type',
  'CFG scale',
  'Seed',
  'Size',
  'Model hash',
  'Model',
  'Lora hashes',
  'Version',
]);

/** `prompt \n Negative prompt: … \n Steps: 20, Sampler: Euler a, …` exactly as WebUI writes it. */
export function buildParametersText(p: GenerationParameters): string {
  const entries: [string, string | number | null][] = [
    ['Steps', p.steps],
    ['Sampler', p.sampler],
    ['Schedule type', p.scheduleType === 'Automatic' ? null : p.scheduleType],
    ['CFG scale', p.cfgScale],
    ['Seed', p.seed],
    ['Size', `${p.width}x${p.height}`],
    ['Model hash', p.modelHash],
    ['Model', p.model],
    ...Object.entries(p.extra),
    [
      'Lora hashes',
      p.loraHashes.length > 0 ? p.loraHashes.map((l) => `${l.name.replace(/[:,]/g, '')}: ${l.hash}`).join(', ') : null,
    ],
    ['Version', p.version],
  ];
  const line = entries
    .filter((entry): entry is [string, string | number] => entry[1] !== null)
    .map(([key, value]) => (String(value) === key ? key : `${key}: ${quote(String(value))}`))
    .join(', ');
  const negative = p.negativePrompt ? `\n${NEGATIVE_PREFIX} ${p.negativePrompt}` : '';
  return `${p.prompt}${negative}\n${line}`.trim();
}

function quote(value: string): string {
  return /[,\n:]/.test(value) ? JSON.stringify(value) : value;
}

/** Parses WebUI infotext; `culprit` names the image in errors. Missing keys are an error, not a guess. */
export function parseParametersText(text: string, culprit: string): GenerationParameters {
  const lines = text.trim().split('\n');
  const last = lines.at(-1) ?? '';
  const pairs = [...last.matchAll(PARAMETER)];
  const hasParameterLine = pairs.length >= 3;
  const promptLines = hasParameterLine ? lines.slice(0, -1) : lines;
  const negativeAt = promptLines.findIndex((l) => l.startsWith(NEGATIVE_PREFIX));
  const prompt = (negativeAt < 0 ? promptLines : promptLines.slice(0, negativeAt)).join('\n').trim();
  const negativeLines =
    negativeAt < 0
      ? []
      : [promptLines[negativeAt]!.slice(NEGATIVE_PREFIX.length), ...promptLines.slice(negativeAt + 1)];
  const values = new Map<string, string>();
  for (const [, key, raw] of hasParameterLine ? pairs : [])
    values.set(key!.trim(), raw!.startsWith('"') ? (JSON.parse(raw!) as string) : raw!.trim());

  const required = (key: string): string => {
    const value = values.get(key);
    if (value === undefined)
      throw new UsageError(`the WebUI parameters have no \`${key}\``, {
        code: 'png_parameters',
        culprit,
        hint: 'the image was not written by WebUI or lora-scripts, or its text was edited',
      });
    return value;
  };
  const number = (key: string): number => {
    const value = Number(required(key));
    if (!Number.isFinite(value))
      throw new UsageError(`\`${key}: ${values.get(key)}\` is not a number`, { code: 'png_parameters', culprit });
    return value;
  };
  const size = /^(\d+)x(\d+)$/.exec(required('Size'));
  if (!size)
    throw new UsageError(`\`Size: ${values.get('Size')}\` is not WIDTHxHEIGHT`, { code: 'png_parameters', culprit });
  return {
    prompt,
    negativePrompt: negativeLines.join('\n').trim(),
    steps: number('Steps'),
    sampler: required('Sampler'),
    scheduleType: values.get('Schedule type') ?? 'Automatic',
    cfgScale: number('CFG scale'),
    seed: number('Seed'),
    width: Number(size[1]),
    height: Number(size[2]),
    modelHash: values.get('Model hash') ?? null,
    model: values.get('Model') ?? null,
    loraHashes: parseLoraHashes(values.get('Lora hashes')),
    version: values.get('Version') ?? null,
    extra: Object.fromEntries([...values].filter(([key]) => !KNOWN_KEYS.has(key))),
  };
}

function parseLoraHashes(value: string | undefined): LoraHash[] {
  if (!value) return [];
  return value.split(',').flatMap((entry) => {
    const at = entry.lastIndexOf(':');
    return at < 0 ? [] : [{ name: entry.slice(0, at).trim(), hash: entry.slice(at + 1).trim() }];
  });
}

// ---- PNG text chunks -------------------------------------------------------------------------------------------

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const TEXT_CHUNK_TYPES = new Set(['tEXt', 'zTXt', 'iTXt']);

interface Chunk {
  type: string;
  data: Buffer;
}

/** The PNG with one `key` text chunk (tEXt when Latin-1 can hold it, else UTF-8 iTXt) in place of any old ones. */
export function withPngText(png: Uint8Array, key: string, text: string, culprit: string): Buffer {
  const chunks = readChunks(png, culprit).filter((c) => !(TEXT_CHUNK_TYPES.has(c.type) && textChunkKey(c) === key));
  const isLatin1 = [...text].every((ch) => ch.codePointAt(0)! <= 0xff);
  const chunk: Chunk = isLatin1
    ? { type: 'tEXt', data: Buffer.concat([Buffer.from(`${key}\0`, 'latin1'), Buffer.from(text, 'latin1')]) }
    : {
        type: 'iTXt',
        data: Buffer.concat([Buffer.from(`${key}\0`, 'latin1'), Buffer.from([0, 0, 0, 0]), Buffer.from(text, 'utf8')]),
      };
  // Right after IHDR, as Pillow writes it: readers that stop at the first IDAT still see it.
  return Buffer.concat([PNG_SIGNATURE, ...[chunks[0]!, chunk, ...chunks.slice(1)].map(encodeChunk)]);
}

/** Every text chunk of the PNG (tEXt, zTXt, iTXt), key → text; the first of a repeated key wins. */
export function readPngText(png: Uint8Array, culprit: string): Map<string, string> {
  const texts = new Map<string, string>();
  for (const chunk of readChunks(png, culprit)) {
    if (!TEXT_CHUNK_TYPES.has(chunk.type)) continue;
    const key = textChunkKey(chunk);
    if (!texts.has(key)) texts.set(key, decodeTextChunk(chunk, key.length + 1, culprit));
  }
  return texts;
}

function textChunkKey(chunk: Chunk): string {
  return chunk.data.subarray(0, chunk.data.indexOf(0)).toString('latin1');
}

function decodeTextChunk(chunk: Chunk, start: number, culprit: string): string {
  const rest = chunk.data.subarray(start);
  if (chunk.type === 'tEXt') return rest.toString('latin1');
  if (chunk.type === 'zTXt') return inflateSync(rest.subarray(1)).toString('latin1');
  // iTXt: compression flag, method, language tag \0, translated keyword \0, text.
  const isCompressed = rest[0] === 1;
  const languageEnd = rest.indexOf(0, 2);
  const translatedEnd = rest.indexOf(0, languageEnd + 1);
  if (languageEnd < 0 || translatedEnd < 0) throw brokenPng(culprit, 'an iTXt chunk is cut short');
  const body = rest.subarray(translatedEnd + 1);
  return (isCompressed ? inflateSync(body) : body).toString('utf8');
}

function readChunks(png: Uint8Array, culprit: string): Chunk[] {
  const bytes = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (bytes.length < 8 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) throw brokenPng(culprit, 'not a PNG file');
  const chunks: Chunk[] = [];
  for (let at = 8; at < bytes.length; ) {
    if (at + 12 > bytes.length) throw brokenPng(culprit, `a chunk header at byte ${at} is cut short`);
    const length = bytes.readUInt32BE(at);
    const type = bytes.subarray(at + 4, at + 8).toString('latin1');
    if (at + 12 + length > bytes.length) throw brokenPng(culprit, `the ${type} chunk at byte ${at} is cut short`);
    chunks.push({ type, data: bytes.subarray(at + 8, at + 8 + length) });
    at += 12 + length;
    if (type === 'IEND') break;
  }
  if (chunks[0]?.type !== 'IHDR' || chunks.at(-1)?.type !== 'IEND')
    throw brokenPng(culprit, 'the PNG has no IHDR or no IEND chunk');
  return chunks;
}

function encodeChunk(chunk: Chunk): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(chunk.data.length, 0);
  head.write(chunk.type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), chunk.data])), 0);
  return Buffer.concat([head, chunk.data, crc]);
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** The CRC-32 PNG puts after every chunk (type + data). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function brokenPng(culprit: string, problem: string): UsageError {
  return new UsageError(`${problem}`, {
    code: 'png_unreadable',
    culprit,
    hint: 'pass a PNG written by WebUI or `lora-scripts generate`',
  });
}

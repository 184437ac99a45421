// CLIP BPE token counting, pure: the same pieces as the transformers `CLIPTokenizer` (NFC, lower case, CLIP's split
// regex, byte-level alphabet, BPE merges with `</w>` word ends), so a caption's length matches what the text encoder sees.

/** Tokens the text encoder reads after its start and end tokens: 77 − 2. */
export const CLIP_CONTENT_TOKENS = 75;

export interface ClipBpe {
  /** `"a b"` → merge rank (line order of `merges.txt`, lower merges first). */
  mergeRanks: ReadonlyMap<string, number>;
  /** Word → its BPE pieces; filled as words are seen (captions repeat words a lot). */
  cache: Map<string, string[]>;
}

const SPECIAL_TOKENS = new Set(['<|startoftext|>', '<|endoftext|>']);
const PIECES = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

/** GPT-2's byte → printable character table: bytes that print as themselves keep their code, the rest move past 255. */
const BYTE_CHARS: string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
})();

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const BYTE_OF_CHAR = new Map(BYTE_CHARS.map((char, byte) => [char, byte]));

/**
 * Counting needs only `merges.txt`: every merge result is an entry of `vocab.json` by construction, and parsing the
 * 49,408-entry vocabulary would cost more than the rest of a `train` start's checks (about 130 ms).
 */
export function makeClipBpe(mergesTxt: string): ClipBpe {
  const mergeRanks = new Map<string, number>();
  const lines = mergesTxt.split('\n');
  // The first line is `#version: 0.2`; the rest are `left right` pairs.
  for (let i = 1; i < lines.length; i++) if (lines[i]!.trim() !== '') mergeRanks.set(lines[i]!.trim(), i - 1);
  return { mergeRanks, cache: new Map() };
}

/** Splits one pre-token into BPE pieces: repeatedly merge the adjacent pair with the lowest rank. */
function bpeWord(bpe: ClipBpe, word: string): string[] {
  const cached = bpe.cache.get(word);
  if (cached) return cached;
  const chars = [...word];
  let symbols = chars.map((c, i) => (i === chars.length - 1 ? `${c}</w>` : c));
  while (symbols.length > 1) {
    let best = -1;
    let bestRank = Infinity;
    for (let i = 0; i < symbols.length - 1; i++) {
      const rank = bpe.mergeRanks.get(`${symbols[i]} ${symbols[i + 1]}`);
      if (rank !== undefined && rank < bestRank) {
        bestRank = rank;
        best = i;
      }
    }
    if (best < 0) break;
    const left = symbols[best]!;
    const right = symbols[best + 1]!;
    const merged: string[] = [];
    for (let i = 0; i < symbols.length; i++) {
      if (i < symbols.length - 1 && symbols[i] === left && symbols[i + 1] === right) {
        merged.push(left + right);
        i++;
      } else merged.push(symbols[i]!);
    }
    symbols = merged;
  }
  bpe.cache.set(word, symbols);
  return symbols;
}

/** The BPE tokens of a caption, without the start and end tokens. */
export function clipTokens(bpe: ClipBpe, text: string): string[] {
  const normalised = text.normalize('NFC').replace(/\s+/gu, ' ').toLowerCase();
  const tokens: string[] = [];
  for (const [piece] of normalised.matchAll(PIECES)) {
    if (SPECIAL_TOKENS.has(piece)) {
      tokens.push(piece);
      continue;
    }
    const word = Array.from(encoder.encode(piece), (b) => BYTE_CHARS[b]!).join('');
    tokens.push(...bpeWord(bpe, word));
  }
  return tokens;
}

export function countClipTokens(bpe: ClipBpe, text: string): number {
  return clipTokens(bpe, text).length;
}

/** Tokens back to text (word ends become spaces), e.g. to show the part of a caption past the limit. */
export function clipTokensText(tokens: readonly string[]): string {
  // Bytes first, decoded once: a Chinese character's three bytes may sit in different tokens.
  const bytes: number[] = [];
  for (const token of tokens) {
    const isWordEnd = token.endsWith('</w>');
    for (const char of isWordEnd ? token.slice(0, -4) : token) bytes.push(BYTE_OF_CHAR.get(char) ?? 0x3f);
    if (isWordEnd) bytes.push(0x20);
  }
  return decoder.decode(Uint8Array.from(bytes)).trim();
}

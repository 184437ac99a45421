// Rule `token-length`: captions past the text encoder's 77 tokens (75 after its start and end tokens). CLIP never
// sees the rest, so words there train nothing; counted with the real CLIP BPE, not by words.
import { CLIP_CONTENT_TOKENS, clipTokens, clipTokensText } from '../clip-tokens.js';
import type { CaptionRule } from '../findings.js';

export const tokenLengthRule: CaptionRule = {
  name: 'token-length',
  summary: `captions longer than CLIP's ${CLIP_CONTENT_TOKENS} tokens (77 with start and end), counted with CLIP's BPE`,
  check: (records, { bpe }) => {
    if (bpe === null) return [];
    return records.flatMap((record) => {
      if (record.caption === null) return [];
      const tokens = clipTokens(bpe, record.caption);
      if (tokens.length <= CLIP_CONTENT_TOKENS) return [];
      const cut = clipTokensText(tokens.slice(CLIP_CONTENT_TOKENS));
      return [
        {
          image: record.image,
          rule: 'token-length',
          severity: 'warn' as const,
          message: `${tokens.length} CLIP tokens: the text encoder reads ${CLIP_CONTENT_TOKENS}, so \`${cut.length > 40 ? `${cut.slice(0, 40)}…` : cut}\` is cut`,
          hint: 'shorten it: keep subject, scene, style and the details that matter, drop repetition',
        },
      ];
    });
  },
};

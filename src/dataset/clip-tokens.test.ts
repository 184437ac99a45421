// The TS CLIP token counter against transformers' CLIPTokenizer. Expected counts come from the engine venv:
//   tok = CLIPTokenizer.from_pretrained("engine/lora_scripts_engine/model_configs/tokenizer-clip")
//   len(tok(caption, add_special_tokens=False)["input_ids"])   (transformers 5.23.0)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLIP_TOKENIZER_DIR } from '../engine/paths.js';
import { clipTokens, clipTokensText, countClipTokens, makeClipBpe } from './clip-tokens.js';

const LONG =
  'four houses and a stone bridge and a willow tree and two red lanterns, canal town scene, jiangnan style with white walls and black tiles, rainy afternoon, with many more words added to this caption so that it runs well past the seventy five token limit of the clip text encoder that stable diffusion uses for its prompts, and then some more';

const PYTHON_COUNTS: [string, number][] = [
  [
    'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning',
    23,
  ],
  ['a beautiful view', 3],
  ["Don't   STOP, it's 2024!!! rock'n'roll <|startoftext|> x", 18],
  ['江南水乡，白墙黑瓦', 26],
  ['Москва ночью, неоновые огни', 29],
  ['café naïve résumé 🎉🎉 — “quoted” text', 15],
  ['masterpiece, best quality, 1girl, solo, looking_at_viewer, (detailed:1.2), <lora:jiangnan:0.7>', 34],
  [LONG, 70],
  [`${LONG} words about the misty morning light on the canal and the boats`, 82],
  ['   ', 0],
  ['photo of sks dog, 35mm f/1.8, ISO-400, 12,000 px', 27],
  ['a photo of sks dog', 5],
  ['Ünïcödé façade, 1920s Art-Déco; 100% über-detailed!!', 30],
  ['ねこ と 犬, 강아지', 14],
];

const bpe = makeClipBpe(readFileSync(join(CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'));

describe('CLIP token counter', () => {
  it.each(PYTHON_COUNTS)('%s → %i tokens, as transformers counts', (caption, expected) => {
    expect(countClipTokens(bpe, caption)).toBe(expected);
  });

  it('produces only tokens of vocab.json', () => {
    const vocab = JSON.parse(readFileSync(join(CLIP_TOKENIZER_DIR, 'vocab.json'), 'utf8')) as Record<string, number>;
    const tokens = PYTHON_COUNTS.flatMap(([caption]) => clipTokens(bpe, caption));
    expect(tokens.length).toBeGreaterThan(300);
    expect(tokens.filter((token) => !(token in vocab))).toEqual([]);
  });

  it('turns tokens back into the lower-cased text', () => {
    expect(clipTokensText(clipTokens(bpe, 'Misty  Morning, 江南'))).toBe('misty morning , 江南');
  });
});

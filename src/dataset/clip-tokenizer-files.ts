// Reads the shipped CLIP tokenizer (engine/lora_scripts_engine/model_configs/tokenizer-clip/) for caption lengths.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeClipBpe, type ClipBpe } from './clip-tokens.js';

export function readClipBpe(tokenizerDir: string): ClipBpe {
  return makeClipBpe(readFileSync(join(tokenizerDir, 'merges.txt'), 'utf8'));
}

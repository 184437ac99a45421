// The caption rules, in the order reports list them. One rule per file, each with its fixture in
// tests/fixtures/dataset-rules/<rule>.json.
import type { CaptionRule } from '../findings.js';
import { captionLanguageRule } from './caption-language.js';
import { captionStructureRule } from './caption-structure.js';
import { duplicateCaptionRule } from './duplicate-caption.js';
import { missingCaptionRule } from './missing-caption.js';
import { tokenLengthRule } from './token-length.js';
import { triggerWordRule } from './trigger-word.js';
import { vagueWordsRule } from './vague-words.js';

export const CAPTION_RULES: readonly CaptionRule[] = [
  missingCaptionRule,
  captionLanguageRule,
  tokenLengthRule,
  triggerWordRule,
  captionStructureRule,
  vagueWordsRule,
  duplicateCaptionRule,
];

// The image quality rules, in the order reports list them. One rule per file, each with its fixture in
// tests/fixtures/dataset-rules/<rule>.json.
import type { QualityRule } from '../findings.js';
import { aspectRatioRule } from './aspect-ratio.js';
import { exposureRule } from './exposure.js';
import { nearDuplicateRule } from './near-duplicate.js';
import { resolutionRule } from './resolution.js';
import { sharpnessRule } from './sharpness.js';
import { unreadableRule } from './unreadable.js';

export const QUALITY_RULES: readonly QualityRule[] = [
  unreadableRule,
  resolutionRule,
  sharpnessRule,
  exposureRule,
  nearDuplicateRule,
  aspectRatioRule,
];

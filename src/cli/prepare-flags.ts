// The flags of `lora-scripts prepare`, one table for the help text and the parser. Imports the dataset stage's
// dependency-free thresholds file directly (not dataset/index.ts) so `--help` does not load sharp.
import { DEFAULT_THRESHOLDS, type QualityThresholds } from '../dataset/findings.js';

export const DEFAULT_TARGET_PX = 768;

export const THRESHOLD_FLAGS: readonly { flag: string; key: keyof QualityThresholds; help: string }[] = [
  { flag: 'max-upscale', key: 'maxUpscale', help: 'Exclude pictures needing more upscaling than this to reach the target (any upscaling warns)' },
  { flag: 'min-sharpness', key: 'minSharpness', help: 'Exclude blurry pictures: Laplacian variance ÷ brightness variance at 384 px below this' },
  { flag: 'min-bright', key: 'minBrightPercentile', help: 'Exclude under-exposed pictures: brightest 1 % of pixels below this (0–255)' },
  { flag: 'max-dark', key: 'maxDarkPercentile', help: 'Exclude over-exposed pictures: darkest 1 % of pixels above this (0–255)' },
  { flag: 'min-contrast', key: 'minContrast', help: 'Warn about flat pictures: brightness standard deviation below this (0–128)' },
  { flag: 'max-aspect', key: 'maxAspect', help: 'Warn when long side ÷ short side is above this (also the widest bucket)' },
  { flag: 'duplicate-distance', key: 'duplicateDistance', help: 'Exclude the later of two pictures whose perceptual hashes differ in ≤ this many of 64 bits' },
  { flag: 'min-caption-words', key: 'minCaptionWords', help: 'Warn about captions of fewer words' },
  { flag: 'duplicate-caption-count', key: 'duplicateCaptionCount', help: 'Warn when this many pictures or more share one caption' },
];

export { DEFAULT_THRESHOLDS };

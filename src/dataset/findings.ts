// What the dataset checks say, pure: the finding record every rule returns, the records rules read, and the
// thresholds (one place for their defaults, which the CLI help and the README quote).
import type { Bucket } from './buckets.js';
import type { ClipBpe } from './clip-tokens.js';
import type { ImageStats } from './image-stats.js';

/**
 * `block`: the run stops whatever the flags. `exclude`: `prepare` leaves the image out (with `--strict` the run fails;
 * `train` warns). `warn`: reported, the image stays.
 */
export type Severity = 'block' | 'exclude' | 'warn';

export interface Finding {
  /** The image's path relative to the dataset folder. */
  image: string;
  /** The rule's name, e.g. `sharpness`, `vague-words`. */
  rule: string;
  severity: Severity;
  message: string;
  hint: string;
}

/** An image and its caption, as the caption rules see it. */
export interface CaptionRecord {
  image: string;
  /** `null`: no caption was found for the image. */
  caption: string | null;
}

/** An image as the quality rules see it; the shell (`inspect-image.ts`) measures it. */
export interface ImageRecord extends CaptionRecord {
  /** Size after the EXIF orientation is applied (what training sees). */
  width: number;
  height: number;
  /** EXIF orientation tag, 1 (upright) to 8. */
  orientation: number;
  /** `null` when the image could not be decoded. */
  stats: ImageStats | null;
  /** 64-bit perceptual hash as 16 hex digits, `null` when unreadable. */
  hash: string | null;
  /** Why decoding failed, `null` when it did not. */
  unreadable: string | null;
}

export interface QualityThresholds {
  /** Pictures whose short side (or bucket) needs more than this much upscaling are excluded; any upscaling warns. */
  maxUpscale: number;
  /** Laplacian variance ÷ brightness variance at the analysis size (see `ANALYSIS_SIDE_PX`); below it: blurry. */
  minSharpness: number;
  /** The brightest 1 % of pixels darker than this (0–255): under-exposed. */
  minBrightPercentile: number;
  /** The darkest 1 % of pixels brighter than this (0–255): over-exposed, washed out. */
  maxDarkPercentile: number;
  /** Brightness standard deviation below this (0–128): flat, low contrast (a warning). */
  minContrast: number;
  /** Long side ÷ short side above this: an unusual aspect ratio (a warning: a crop loses much of the picture). */
  maxAspect: number;
  /** Perceptual-hash distance (bits of 64) at or below which two pictures are near-duplicates. */
  duplicateDistance: number;
  /** Captions of fewer words get the subject + scene + style + detail suggestion. */
  minCaptionWords: number;
  /** A caption shared by this many pictures or more is flagged. */
  duplicateCaptionCount: number;
}

/** `prepare`'s training size when none is given: square crops of this size, or buckets of about this many pixels². */
export const DEFAULT_TARGET_PX = 768;

export const DEFAULT_THRESHOLDS: QualityThresholds = {
  maxUpscale: 1.5,
  // Sharp photos score 0.3–1 and the drawn sample scenes 0.07+; a Gaussian blur of 2 px at 384 px gives ~0.02.
  minSharpness: 0.015,
  minBrightPercentile: 90,
  maxDarkPercentile: 170,
  minContrast: 12,
  maxAspect: 2,
  // Measured on 31 of the 1,024 px bench scenes: JPEG q50, half size, σ1.5 blur and +30 % saturation copies stay within
  // 4 bits (+10 % brightness: 6 at most); among 1,000 distinct but look-alike drawn scenes 2 pairs are at 4, 18 at 6.
  duplicateDistance: 4,
  minCaptionWords: 4,
  duplicateCaptionCount: 3,
};

/** Images are judged for blur, exposure and duplicates at this short side (smaller ones at their own size). */
export const ANALYSIS_SIDE_PX = 384;

/** What every rule may read besides the records. */
export interface CheckOptions {
  thresholds: QualityThresholds;
  /** The training size: square `targetPx`² crops, or the bucket list when bucketing. `null`: unknown, not checked. */
  targetPx: number | null;
  buckets: readonly Bucket[] | null;
  /** `null`: no trigger word to look for. */
  triggerWord: string | null;
  /** `null`: caption lengths are not checked. */
  bpe: ClipBpe | null;
}

export interface QualityRule {
  name: string;
  /** One line for `--help` and the README: what the rule flags. */
  summary: string;
  check(records: readonly ImageRecord[], options: CheckOptions): Finding[];
}

export interface CaptionRule {
  name: string;
  summary: string;
  check(records: readonly CaptionRecord[], options: CheckOptions): Finding[];
}

const SEVERITY_ORDER: Record<Severity, number> = { block: 0, exclude: 1, warn: 2 };

/** Worst first, then by image, then by rule: the order reports list them in. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      a.image.localeCompare(b.image) ||
      a.rule.localeCompare(b.rule),
  );
}

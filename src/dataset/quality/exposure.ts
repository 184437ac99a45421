// Rule `exposure`: under- and over-exposed pictures (excluded) and flat, low-contrast ones (a warning).
// Percentiles rather than the mean: a night scene is dark on average but its lights still reach white.
import type { Finding, ImageRecord, QualityRule, QualityThresholds } from '../findings.js';

function exposureFinding(record: ImageRecord, thresholds: QualityThresholds): Finding | null {
  const stats = record.stats;
  if (stats === null) return null;
  const base = { image: record.image, rule: 'exposure' };
  if (stats.brightPercentile < thresholds.minBrightPercentile) {
    return {
      ...base,
      severity: 'exclude',
      message: `under-exposed: the brightest 1 % of pixels reach only ${stats.brightPercentile}/255`,
      hint: 'brighten it in an editor, or use a better-exposed shot',
    };
  }
  if (stats.darkPercentile > thresholds.maxDarkPercentile) {
    return {
      ...base,
      severity: 'exclude',
      message: `over-exposed: even the darkest 1 % of pixels are ${stats.darkPercentile}/255`,
      hint: 'use a shot with detail in the highlights; washed-out pictures teach a washed-out style',
    };
  }
  if (stats.contrast < thresholds.minContrast) {
    return {
      ...base,
      severity: 'warn',
      message: `low contrast: brightness spread ${stats.contrast.toFixed(1)} (below ${thresholds.minContrast})`,
      hint: 'fine for fog or haze on purpose; otherwise raise the contrast or replace it',
    };
  }
  return null;
}

export const exposureRule: QualityRule = {
  name: 'exposure',
  summary: 'under-/over-exposed pictures (1 %/99 % brightness percentiles), low contrast (a warning)',
  check: (records, { thresholds }) => records.flatMap((record) => exposureFinding(record, thresholds) ?? []),
};

// The steps and CFG (Flux dev: guidance) a render takes when its caller gives none, by model family: the one table
// that `lora-scripts generate`, the studio's generate jobs and the render worker (covers, the A1111 API) all read.
import type { FluxVariant } from '../checkpoint/index.js';

export interface SamplingDefaults {
  steps: number;
  /** Stable Diffusion's CFG scale; Flux dev's guidance value (guidance-distilled); schnell takes none. */
  cfgScale: number;
}

/** Stable Diffusion: WebUI's defaults. Flux: FluxPipeline's (28 steps, guidance 3.5) and schnell's 4 steps. */
const SAMPLING_DEFAULTS: Record<FluxVariant | 'sd', SamplingDefaults> = {
  sd: { steps: 20, cfgScale: 7 },
  dev: { steps: 28, cfgScale: 3.5 },
  schnell: { steps: 4, cfgScale: 0 },
};

/** `fluxVariant`: the base model's, or undefined for Stable Diffusion. */
export function samplingDefaults(fluxVariant: FluxVariant | undefined): SamplingDefaults {
  return SAMPLING_DEFAULTS[fluxVariant ?? 'sd'];
}

/** What a render samples with: the values given, the family's default for each one left out (null or undefined). */
export function samplingSettings(
  fluxVariant: FluxVariant | undefined,
  given: { steps?: number | null | undefined; cfgScale?: number | null | undefined },
): SamplingDefaults {
  const defaults = samplingDefaults(fluxVariant);
  return { steps: given.steps ?? defaults.steps, cfgScale: given.cfgScale ?? defaults.cfgScale };
}

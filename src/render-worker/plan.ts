// A render request → the worker job the engine runs and the WebUI infotext of every image it will make. Pure: the
// shell (process.ts) has already read the base model's facts and hashed it and the LoRA files.
import type { EngineBaseModelFacts, FluxVariant } from '../checkpoint/index.js';
import type { WorkerJob } from '../engine/index.js';
import { UsageError } from '../errors.js';
import {
  buildParametersText,
  chooseScheduler,
  FLUX_SAMPLER,
  samplingSettings,
  parseNegativePrompt,
  parsePrompt,
  type GenerationParameters,
} from '../generate/index.js';
import type { RenderRequest } from './types.js';

export interface BaseModelRecord {
  path: string;
  /** Full sha256 of the file; null for a diffusers folder. */
  sha256: string | null;
  /** File stem: WebUI's `Model:`. */
  name: string;
  engineFacts: EngineBaseModelFacts;
  /** A Flux base: dev or schnell (their step and guidance defaults differ). */
  fluxVariant?: FluxVariant;
}

export interface PlannedRender {
  job: WorkerJob;
  /** Per seed, in order: the infotext its PNG carries. */
  infotexts: string[];
  /** Settings the request gave that this base model does not use (Flux: the negative prompt), one line each. */
  notes: string[];
}

const SEED_RANGE = 2 ** 32;

/**
 * The prompt's `<lora:…>` tags are taken out of what the text encoder reads; the LoRAs applied are exactly
 * `request.loras` (the caller resolved the tags). A LoRA the prompt does not name gets its tag appended to the
 * infotext's prompt, so WebUI re-renders the same picture from the PNG alone.
 */
export function planRender(
  request: RenderRequest,
  jobId: string,
  base: BaseModelRecord,
  loraHashes: string[],
  version: string,
  /** Per LoRA, the file the engine loads (a kohya LoHa/DoRA's peft copy); the infotext names the LoRA itself. */
  enginePaths: readonly string[] = request.loras.map((lora) => lora.path),
): PlannedRender {
  const flux = base.engineFacts.family === 'flux';
  const parsed = parsePrompt(request.prompt, 'prompt');
  // Flux has no negative prompt (no true CFG here): not sent, not written in the infotext, noted.
  const negativePrompt = flux ? '' : request.negative_prompt;
  const negative = parseNegativePrompt(negativePrompt, 'negative_prompt');
  // Flux samples with its own FlowMatchEuler scheduler, whatever the request names (as `generate` does).
  const scheduler = flux ? chooseScheduler(FLUX_SAMPLER) : chooseScheduler(request.sampler, 'Automatic', 'sampler');
  const { steps, cfgScale } = samplingSettings(base.fluxVariant, { steps: request.steps, cfgScale: request.cfg_scale });
  checkSettings(request, steps);
  const tagged = new Set(parsed.loras.map((l) => l.name));
  const loras = request.loras.map((lora, i) => ({
    path: enginePaths[i] ?? lora.path,
    name: lora.name ?? stemOf(lora.path),
    te_weight: lora.weight,
    unet_weight: lora.unet_weight ?? lora.weight,
    hash: loraHashes[i]!,
  }));
  const untagged = loras.filter((l) => !tagged.has(l.name)).map(loraTag);
  const infotextPrompt = [request.prompt, ...untagged].filter(Boolean).join(', ');
  const parameters = (seed: number): GenerationParameters => ({
    prompt: infotextPrompt,
    negativePrompt,
    steps,
    sampler: scheduler.sampler,
    scheduleType: scheduler.scheduleType,
    cfgScale,
    seed,
    width: request.width,
    height: request.height,
    modelHash: base.sha256 ? base.sha256.slice(0, 10) : null,
    model: base.name,
    loraHashes: loras.map((l) => ({ name: l.name, hash: l.hash })),
    version,
    extra: {},
  });
  // Flux's text encoders get the plain prompt: emphasis weights are SD's (generate.flux_prompt_inputs).
  const weighted = !flux && (parsed.segments !== undefined || negative.segments !== undefined);
  const pairs = (segments: typeof parsed.segments, text: string): [string, number][] =>
    (segments ?? [{ text, weight: 1 }]).map((s) => [s.text, s.weight]);
  return {
    job: {
      job: jobId,
      base_model: base.path,
      base_model_facts: base.engineFacts,
      batch: {
        prompt: parsed.text,
        negative_prompt: negative.text,
        prompt_segments: weighted ? pairs(parsed.segments, parsed.text) : null,
        negative_segments: weighted ? pairs(negative.segments, negative.text) : null,
        seeds: request.seeds,
        files: request.seeds.map((_, k) => `${jobId}-${k}.png`),
        steps,
        cfg_scale: cfgScale,
        width: request.width,
        height: request.height,
        scheduler: scheduler.engine,
        loras: loras.map(({ path, name, te_weight, unet_weight }) => ({ path, name, te_weight, unet_weight })),
      },
    },
    infotexts: request.seeds.map((seed) => buildParametersText(parameters(seed))),
    notes:
      flux && request.negative_prompt.trim()
        ? ['negative_prompt: ignored (a Flux base model has no negative prompt)']
        : [],
  };
}

/** What the pipeline would refuse after the base model loaded: refused here, naming the field. */
function checkSettings(request: RenderRequest, steps: number): void {
  const fail = (field: string, message: string, hint: string) => {
    throw new UsageError(message, { code: 'invalid_render', culprit: field, hint });
  };
  if (request.seeds.length === 0) fail('seeds', 'no seeds: nothing to render', 'give one seed per image');
  const badSeed = request.seeds.find((s) => !Number.isInteger(s) || s < 0 || s >= SEED_RANGE);
  if (badSeed !== undefined) fail('seeds', `seed ${badSeed} is not in 0…${SEED_RANGE - 1}`, 'use a 32-bit seed');
  if (!Number.isInteger(steps) || steps < 1)
    fail('steps', `steps ${steps} is not a whole number ≥ 1`, 'use 20 for a normal render, or leave it out');
  for (const field of ['width', 'height'] as const) {
    const value = request[field];
    if (!Number.isInteger(value) || value < 8 || value % 8 !== 0)
      fail(field, `${field} ${value} is not a multiple of 8`, 'use a size such as 512 or 768');
  }
}

function stemOf(path: string): string {
  return (path.split(/[\\/]/).pop() ?? path).replace(/\.safetensors$/i, '');
}

function loraTag(lora: { name: string; te_weight: number; unet_weight: number }): string {
  const weights = lora.te_weight === lora.unet_weight ? `${lora.te_weight}` : `${lora.te_weight}:${lora.unet_weight}`;
  return `<lora:${lora.name}:${weights}>`;
}

// Settings → the engine's `generate` request and the WebUI parameters of every image it will make. Pure: the
// shell (run.ts) has already found the LoRA files, hashed them and the base model.
import type { OptionsOf } from '../engine/index.js';
import type { EngineBaseModelFacts, FluxVariant } from '../checkpoint/index.js';
import type { GenerationParameters, LoraHash } from './png-parameters.js';
import type { WeightedSegment } from './prompt.js';
import type { SchedulerChoice } from './samplers.js';

export interface ResolvedLora {
  path: string;
  /** As written in the prompt tag (or the file stem for `--lora FILE`). */
  name: string;
  teWeight: number;
  unetWeight: number;
  /** WebUI's 12-digit LoRA hash. */
  hash: string;
}

export interface GenerationSettings {
  /** The prompt as the user wrote it, `<lora:…>` tags included (what the PNG keeps). */
  prompt: string;
  /** What the text encoder gets: tags and attention syntax removed. */
  encoderPrompt: string;
  /** Attention-weighted pieces of `encoderPrompt`, when the prompt has any `(word:1.2)`-style emphasis. */
  encoderSegments?: WeightedSegment[];
  negativePrompt: string;
  encoderNegativePrompt: string;
  encoderNegativeSegments?: WeightedSegment[];
  loras: ResolvedLora[];
  scheduler: SchedulerChoice;
  steps: number;
  cfgScale: number;
  /** The first image's seed; image i (over every batch) gets seed + i, as in WebUI. */
  seed: number;
  width: number;
  height: number;
  batchCount: number;
  batchSize: number;
}

export interface BaseModelFacts {
  path: string;
  /** sha256 of the file (null for a diffusers folder). */
  sha256: string | null;
  /** File stem, WebUI's `Model:`. */
  name: string;
  /** The checkpoint verdict's family and prediction type (src/checkpoint), which the engine loads with. */
  engineFacts: EngineBaseModelFacts;
  /** A Flux base: dev or schnell (their step and guidance defaults differ). */
  fluxVariant?: FluxVariant;
}

export interface PlannedImage {
  /** Name of the plain PNG the engine writes (in its staging folder). */
  engineFile: string;
  seed: number;
  parameters: GenerationParameters;
}

export interface GenerationPlan {
  request: OptionsOf<'generate'>;
  images: PlannedImage[];
}

/**
 * One job per prompt, each `batchCount` batches of `batchSize` images. Every job starts at its own `seed` (image i
 * of a job gets seed + i, as in WebUI), so jobs that share a seed differ only by their prompt and LoRAs.
 * Every image carries the parameters that reproduce it alone.
 */
export function planGeneration(
  jobs: GenerationSettings[],
  base: BaseModelFacts,
  version: string,
  stagingDir: string,
): GenerationPlan {
  const images: PlannedImage[] = [];
  const batches = jobs.flatMap((settings, j) => {
    const loraHashes: LoraHash[] = settings.loras.map((l) => ({ name: l.name, hash: l.hash }));
    return Array.from({ length: settings.batchCount }, (_, b) => {
      const seeds = Array.from(
        { length: settings.batchSize },
        (_, k) => (settings.seed + b * settings.batchSize + k) % 2 ** 32,
      );
      const batchImages = seeds.map((seed, k) => ({
        engineFile: `image-${j}-${b}-${k}.png`,
        seed,
        parameters: parametersOf(settings, base, version, seed, loraHashes),
      }));
      images.push(...batchImages);
      return {
        prompt: settings.encoderPrompt,
        negative_prompt: settings.encoderNegativePrompt,
        ...weightedSegments(settings),
        seeds,
        files: batchImages.map((i) => i.engineFile),
        steps: settings.steps,
        cfg_scale: settings.cfgScale,
        width: settings.width,
        height: settings.height,
        scheduler: settings.scheduler.engine,
        loras: settings.loras.map((l) => ({
          path: l.path,
          name: l.name,
          te_weight: l.teWeight,
          unet_weight: l.unetWeight,
        })),
      };
    });
  });
  return {
    request: { base_model: base.path, base_model_facts: base.engineFacts, out_dir: stagingDir, batches },
    images,
  };
}

type Segments = OptionsOf<'generate'>['batches'][number]['prompt_segments'];

/** The engine encodes weighted segments only when some weight is not 1; plain prompts go through the pipeline as text. */
function weightedSegments(settings: GenerationSettings): { prompt_segments: Segments; negative_segments: Segments } {
  if (!settings.encoderSegments && !settings.encoderNegativeSegments)
    return { prompt_segments: null, negative_segments: null };
  const pairs = (segments: WeightedSegment[] | undefined, text: string): [string, number][] =>
    (segments ?? [{ text, weight: 1 }]).map((s) => [s.text, s.weight]);
  return {
    prompt_segments: pairs(settings.encoderSegments, settings.encoderPrompt),
    negative_segments: pairs(settings.encoderNegativeSegments, settings.encoderNegativePrompt),
  };
}

function parametersOf(
  settings: GenerationSettings,
  base: BaseModelFacts,
  version: string,
  seed: number,
  loraHashes: LoraHash[],
): GenerationParameters {
  return {
    prompt: settings.prompt,
    negativePrompt: settings.negativePrompt,
    steps: settings.steps,
    sampler: settings.scheduler.sampler,
    scheduleType: settings.scheduler.scheduleType,
    cfgScale: settings.cfgScale,
    seed,
    width: settings.width,
    height: settings.height,
    modelHash: base.sha256 ? base.sha256.slice(0, 10) : null,
    model: base.name,
    loraHashes,
    version,
    extra: {},
  };
}

/** `00007-1234.png`: WebUI's numbering, continuing after the highest number already in the folder. */
export function imageFileNames(existing: string[], seeds: number[]): string[] {
  const highest = Math.max(
    -1,
    ...existing
      .map((name) => /^(\d{5,})-/.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number),
  );
  return seeds.map((seed, i) => `${String(highest + 1 + i).padStart(5, '0')}-${seed}.png`);
}

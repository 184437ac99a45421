// Renders the same prompts and seeds at several LoRA strengths through the engine (one base-model load for all).
import { checkBaseModel, engineFacts } from '../checkpoint/index.js';
import { UsageError } from '../errors.js';
import { runEngine, type EngineEvent, type Env } from '../engine/index.js';

export interface RenderStrengthsOptions {
  baseModel: string;
  /** The diffusers LoRA file (`pytorch_lora_weights.safetensors`). */
  lora: string;
  prompts: string[];
  negativePrompt?: string;
  seeds: number[];
  strengths: number[];
  sizePx: number;
  steps: number;
  guidanceScale: number;
  outDir: string;
  env: Env;
  verbose: boolean;
  logFile?: string;
  /** One `sample` event per image as it is saved. */
  onEvent?: (event: EngineEvent) => void;
  /** Stops the engine (a studio job's cancel); the run then rejects. */
  stopSignal?: AbortSignal;
}

export interface RenderedImage {
  strength: number;
  promptIndex: number;
  seed: number;
  path: string;
}

export async function renderStrengths(options: RenderStrengthsOptions): Promise<RenderedImage[]> {
  const base = checkBaseModel(options.baseModel, {
    culprit: options.baseModel,
    loraHint: 'give the LoRA as `lora` and a full checkpoint as the base model',
  });
  if (base.family === 'flux')
    throw new UsageError('is a Flux base model; the strength grid renders Stable Diffusion models only', {
      code: 'flux_unsupported',
      culprit: options.baseModel,
      hint: 'render each strength with `lora-scripts generate --base-model FOLDER --prompt "… <lora:NAME:0.5>"`',
    });
  const request = {
    base_model: options.baseModel,
    base_model_facts: engineFacts(base),
    lora: options.lora,
    prompts: options.prompts,
    negative_prompt: options.negativePrompt ?? null,
    seeds: options.seeds,
    strengths: options.strengths,
    size: options.sizePx,
    steps: options.steps,
    guidance_scale: options.guidanceScale,
    out_dir: options.outDir,
  };
  const result = await runEngine(
    { command: 'render-strengths', options: request },
    {
      env: options.env,
      verbose: options.verbose,
      logFile: options.logFile,
      onEvent: options.onEvent,
      stopSignal: options.stopSignal,
    },
  );
  // The engine renders strength by strength, prompt by prompt, seed by seed: the files come back in that order.
  const order = options.strengths.flatMap((strength) =>
    options.prompts.flatMap((_, promptIndex) => options.seeds.map((seed) => ({ strength, promptIndex, seed }))),
  );
  return result.done.files.map((path, i) => ({ ...order[i]!, path }));
}

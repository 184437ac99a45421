// A cover request and its resolved style → what to render, and the cache key of the result. Pure: the style is
// already resolved (library), the paths already made absolute (the shell).
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';
import { parsePrompt } from '../generate/index.js';
import { fillPromptTemplate, type ResolvedStyle } from '../library/index.js';
import type { RenderRequest } from '../render-worker/index.js';
import { type CoverRequest, sizeOf } from './request.js';

export interface CoverPlan {
  /** Hex sha256 of everything that decides the pictures: same key, same covers. */
  key: string;
  /** The prompt as the template made it, LoRA tags included (what a person reads). */
  prompt: string;
  render: RenderRequest;
  /** The text set on the pictures, or null for bare pictures. */
  title: string | null;
}

/** A style without a template: its trigger words, then the caller's prompt (or the title when there is none). */
export const DEFAULT_PROMPT_TEMPLATE = '{trigger_words}, {prompt}';
// Cover defaults: Euler a, and the render worker's steps and CFG for the base model's family (generate/
// sampling-defaults.ts: WebUI's 20 steps at CFG 7 on SD, which every style's samples are made with too; Flux dev's
// 28 steps at guidance 3.5, schnell's 4).
const COVER_SAMPLER = 'Euler a';
/** Bump when what a cache entry holds changes, so old entries are not read as new ones. */
const CACHE_FORMAT = 1;

export interface PlanPaths {
  /** The LoRA file as the worker opens it. */
  loraPath: string;
  /** The base model as the worker opens it. */
  baseModel: string;
  /** The base model as the library or the caller names it (workspace-relative, or a hub id): the cache's view. */
  baseModelId: string;
}

export function planCovers(request: CoverRequest, style: ResolvedStyle, paths: PlanPaths): CoverPlan {
  const prompt = fillPromptTemplate(style.prompt_template ?? DEFAULT_PROMPT_TEMPLATE, {
    title: request.title,
    // Without a template the prompt is the picture's subject, so the title stands in for a missing one.
    prompt: request.prompt ?? (style.prompt_template === null ? request.title : ''),
    style: style.style,
    strength: String(style.strength),
    trigger_words: style.trigger_words.join(', '),
  });
  const { text, weight } = styleTagWeight(prompt, style);
  const { width, height } = sizeOf(request);
  const first = request.seed ?? defaultSeed(request);
  const render: RenderRequest = {
    base_model: paths.baseModel,
    prompt: text,
    negative_prompt: '',
    seeds: Array.from({ length: request.n }, (_, i) => (first + i) % 2 ** 32),
    steps: null,
    cfg_scale: null,
    width,
    height,
    sampler: COVER_SAMPLER,
    loras: [{ path: paths.loraPath, weight, name: style.style }],
  };
  const title = request.title_on_image ? request.title : null;
  return { key: cacheKey(style, paths.baseModelId, render, title), prompt, render, title };
}

/**
 * The prompt without LoRA tags, and the style's weight: its recommended strength, or the weight a template's
 * `<lora:{style}:…>` tag gives. A tag naming another LoRA is refused: a cover is made in its place's style only.
 */
function styleTagWeight(prompt: string, style: ResolvedStyle): { text: string; weight: number } {
  const parsed = parsePrompt(prompt, 'prompt');
  const others = parsed.loras.filter((l) => l.name !== style.style);
  if (others.length > 0) {
    throw new UsageError(`\`<lora:${others[0]!.name}:…>\`: a cover uses its style's LoRA only`, {
      code: 'cover_prompt_lora',
      culprit: 'prompt',
      hint: `remove the tag; the place resolves to \`${style.style}\`, whose LoRA is applied by itself`,
    });
  }
  const own = parsed.loras[0];
  return { text: parsed.text, weight: own ? own.unetWeight : style.strength };
}

/** Without a seed, the same title and prompt give the same pictures (and hit the cache); change either, or send one. */
function defaultSeed(request: CoverRequest): number {
  const digest = createHash('sha256')
    .update(JSON.stringify([request.title, request.prompt ?? null]))
    .digest();
  return digest.readUInt32BE(0);
}

/**
 * Keyed by the style version's bytes (sha256), not its name or number: a new promoted version, or a place mapped
 * to another style, gives new covers; two places mapped to the same version share them. Absolute paths are left
 * out so that a moved workspace keeps its cache.
 */
function cacheKey(style: ResolvedStyle, baseModelId: string, render: RenderRequest, title: string | null): string {
  const { base_model: _baseModel, loras, ...settings } = render;
  const identity = {
    format: CACHE_FORMAT,
    lora_sha256: style.sha256,
    base_model: baseModelId,
    weight: loras[0]!.weight,
    ...settings,
    title,
  };
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex');
}

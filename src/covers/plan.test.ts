// The pure core: request + resolved style → prompt, render request and cache key.
import { describe, expect, it } from 'vitest';
import type { ResolvedStyle } from '../library/index.js';
import { planCovers } from './plan.js';
import { type CoverRequestInput, coverRequestSchema } from './request.js';

const STYLE: ResolvedStyle = {
  style: 'jiangnan_style',
  version: 2,
  sha256: 'a'.repeat(64),
  lora_path: 'library/aaaa.safetensors',
  strength: 0.7,
  prompt_template: '{title}, {prompt}, jiangnan water town, {trigger_words}',
  trigger_words: ['jiangnan style'],
  base_model: 'models/demo-sd1.safetensors',
  matched: 'province',
};
const PATHS = {
  loraPath: '/ws/library/aaaa.safetensors',
  baseModel: '/ws/models/demo-sd1.safetensors',
  baseModelId: 'models/demo-sd1.safetensors',
};

const request = (input: Partial<CoverRequestInput> = {}) =>
  coverRequestSchema.parse({ province: '浙江', title: '雨中江南', ...input });

describe('planCovers', () => {
  it("fills the style's template and renders n seeds at the style's strength", () => {
    const plan = planCovers(request({ n: 3, seed: 40, size: '256x128', prompt: 'rain' }), STYLE, PATHS);
    expect(plan.prompt).toBe('雨中江南, rain, jiangnan water town, jiangnan style');
    expect(plan.render).toMatchObject({
      base_model: PATHS.baseModel,
      prompt: plan.prompt,
      seeds: [40, 41, 42],
      width: 256,
      height: 128,
      loras: [{ path: PATHS.loraPath, weight: 0.7, name: 'jiangnan_style' }],
    });
    expect(plan.title).toBe('雨中江南');
  });

  it('without a template: trigger words, then the prompt (or the title when there is none)', () => {
    const bare = { ...STYLE, prompt_template: null };
    expect(planCovers(request(), bare, PATHS).prompt).toBe('jiangnan style, 雨中江南');
    expect(planCovers(request({ prompt: 'canal at dusk' }), bare, PATHS).prompt).toBe('jiangnan style, canal at dusk');
  });

  it("takes the weight of the template's own `<lora:{style}:…>` tag, and refuses another LoRA", () => {
    const tagged = { ...STYLE, prompt_template: '{title}, <lora:{style}:0.9>' };
    const plan = planCovers(request(), tagged, PATHS);
    expect(plan.prompt).toBe('雨中江南, <lora:jiangnan_style:0.9>');
    expect(plan.render.prompt).not.toContain('<lora');
    expect(plan.render.loras[0]!.weight).toBe(0.9);
    expect(() => planCovers(request({ prompt: '<lora:other:1>' }), STYLE, PATHS)).toThrow(/its style's LoRA only/);
  });

  it('derives the same seeds from the same title and prompt when none is sent', () => {
    const [a, b, c] = [request(), request(), request({ title: '夜游秦淮' })].map((r) => planCovers(r, STYLE, PATHS));
    expect(a!.render.seeds).toEqual(b!.render.seeds);
    expect(a!.render.seeds).not.toEqual(c!.render.seeds);
  });

  it('keys the cache by the request and the LoRA bytes, not by the place or the absolute paths', () => {
    const key = (r: ReturnType<typeof request>, style = STYLE, paths = PATHS) => planCovers(r, style, paths).key;
    const base = key(request());
    expect(key(request({ province: undefined, city: '杭州' }))).toBe(base);
    expect(
      key(request(), STYLE, { ...PATHS, loraPath: '/moved/library/aaaa.safetensors', baseModel: '/moved/m' }),
    ).toBe(base);
    expect(key(request(), { ...STYLE, sha256: 'b'.repeat(64) })).not.toBe(base);
    expect(key(request({ title_on_image: false }))).not.toBe(base);
    expect(key(request({ n: 2 }))).not.toBe(base);
    expect(key(request({ size: '256x256' }))).not.toBe(base);
  });
});

describe('coverRequestSchema', () => {
  it('needs a place, a title and sizes the VAE can make', () => {
    expect(coverRequestSchema.safeParse({ title: 'x' }).error?.issues[0]?.path).toEqual(['region']);
    expect(coverRequestSchema.safeParse({ city: '杭州', title: '  ' }).success).toBe(false);
    expect(coverRequestSchema.safeParse({ city: '杭州', title: 'x', size: '500x500' }).success).toBe(false);
    expect(coverRequestSchema.safeParse({ city: '杭州', title: 'x', n: 9 }).success).toBe(false);
    expect(coverRequestSchema.safeParse({ city: '杭州', title: 'x', colour: 'red' }).success).toBe(false);
    expect(coverRequestSchema.parse({ city: '杭州', title: 'x' })).toMatchObject({
      n: 1,
      size: '512x512',
      title_on_image: true,
    });
  });
});

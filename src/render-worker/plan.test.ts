// planRender by family, as the A1111 API and the cover service call it: Flux takes the request's steps and CFG as its
// steps and guidance, or dev's/schnell's defaults when left out; its own Euler whatever the sampler; no negative
// prompt (noted) and no emphasis weights. Stable Diffusion keeps WebUI's defaults and its sampler.
import { describe, expect, it } from 'vitest';
import { chooseScheduler, parseParametersText } from '../generate/index.js';
import { type BaseModelRecord, planRender } from './plan.js';
import type { RenderRequest } from './types.js';

const SD: BaseModelRecord = {
  path: '/m/sd.safetensors',
  sha256: 'c'.repeat(64),
  name: 'sd',
  engineFacts: { family: 'sd1', prediction_type: 'epsilon' },
};
const FLUX_DEV: BaseModelRecord = {
  path: '/m/flux-dev',
  sha256: null,
  name: 'flux-dev',
  engineFacts: { family: 'flux', prediction_type: 'flow_matching' },
  fluxVariant: 'dev',
};
const FLUX_SCHNELL: BaseModelRecord = { ...FLUX_DEV, path: '/m/flux-schnell', fluxVariant: 'schnell' };

const request = (overrides: Partial<RenderRequest> = {}): RenderRequest => ({
  base_model: 'unused',
  prompt: 'a (stone bridge:1.3)',
  negative_prompt: 'blurry',
  seeds: [1],
  width: 64,
  height: 64,
  sampler: 'DPM++ 2M Karras',
  loras: [],
  ...overrides,
});

const plan = (base: BaseModelRecord, overrides: Partial<RenderRequest> = {}) =>
  planRender(request(overrides), 'j', base, [], 'v');

describe('planRender by family', () => {
  it("gives Flux dev the request's CFG as guidance and steps, its own Euler, no negative prompt or emphasis", () => {
    const { job, infotexts, notes } = plan(FLUX_DEV, { steps: 6, cfg_scale: 5 });
    expect(job.batch).toMatchObject({ steps: 6, cfg_scale: 5, negative_prompt: '', prompt_segments: null });
    expect(job.batch.scheduler).toEqual(chooseScheduler('Euler').engine);
    expect(parseParametersText(infotexts[0]!, 'flux')).toMatchObject({ sampler: 'Euler', negativePrompt: '' });
    expect(notes).toEqual(['negative_prompt: ignored (a Flux base model has no negative prompt)']);
  });

  it("takes each family's defaults for what the request leaves out", () => {
    expect(plan(FLUX_DEV).job.batch).toMatchObject({ steps: 28, cfg_scale: 3.5 });
    expect(plan(FLUX_SCHNELL, { cfg_scale: null }).job.batch).toMatchObject({ steps: 4, cfg_scale: 0 });
    const sd = plan(SD);
    expect(sd.job.batch).toMatchObject({ steps: 20, cfg_scale: 7, negative_prompt: 'blurry' });
    expect(sd.job.batch.prompt_segments).not.toBeNull();
    expect(sd.job.batch.scheduler).toEqual(chooseScheduler('DPM++ 2M Karras').engine);
    expect(sd.notes).toEqual([]);
  });
});

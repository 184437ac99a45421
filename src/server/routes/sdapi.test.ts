// The A1111-compatible API through app.request(), as an A1111 client talks to it: the body `webuiapi` (0.9.17) sends
// for `api.txt2img(prompt=…, seed=…, …)`, written out by hand; the images decoded and their `parameters` chunk read;
// `info` parsed. Real demo base model and fixture LoRAs in a temp workspace; every answer parsed with its schema.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { PARAMETERS_KEY, readPngText } from '../../generate/index.js';
import { openSqliteLibrary } from '../../library/index.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, type StudioApp } from '../app.js';
import { closeSharedRenderWorker, sharedRenderWorker } from '../render-pool.js';
import { errorBodySchema } from '../schemas.js';
import {
  loraListSchema,
  optionsSchema,
  progressSchema,
  samplerListSchema,
  schedulerListSchema,
  scriptListSchema,
  sdapiValidationErrorSchema,
  sdModelListSchema,
  txt2imgInfoSchema,
  txt2imgResponseSchema,
} from '../sdapi/index.js';
import { accessPolicy } from '../security/index.js';

const HOST = '127.0.0.1:7860';
const STYLES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles');
// One torch thread: the test machine is shared (see src/generate/run.test.ts).
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

/** What `webuiapi.WebUIApi().txt2img(...)` posts with its defaults (sampler `Euler a`, no extensions found). */
function webuiapiPayload(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    enable_hr: false,
    hr_scale: 2,
    hr_upscaler: 'Latent',
    hr_second_pass_steps: 0,
    hr_resize_x: 0,
    hr_resize_y: 0,
    denoising_strength: 0.7,
    firstphase_width: 0,
    firstphase_height: 0,
    prompt: '',
    styles: [],
    seed: -1,
    subseed: -1,
    subseed_strength: 0.0,
    seed_resize_from_h: 0,
    seed_resize_from_w: 0,
    batch_size: 1,
    n_iter: 1,
    steps: 20,
    cfg_scale: 7.0,
    width: 512,
    height: 512,
    restore_faces: false,
    tiling: false,
    do_not_save_samples: false,
    do_not_save_grid: false,
    negative_prompt: '',
    eta: 1.0,
    s_churn: 0,
    s_tmax: 0,
    s_tmin: 0,
    s_noise: 1,
    override_settings: {},
    override_settings_restore_afterwards: true,
    sampler_name: 'Euler a',
    sampler_index: 'Euler a',
    script_name: null,
    script_args: [],
    send_images: true,
    save_images: false,
    alwayson_scripts: {},
    ...overrides,
  };
}

let dir: string;
let store: JobStore;
let app: StudioApp;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-sdapi-'));
  mkdirSync(join(dir, 'models'));
  copyFileSync(join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors'), join(dir, 'models', 'demo-sd1.safetensors'));
  mkdirSync(join(dir, 'loras'));
  copyFileSync(join(STYLES, 'jiangnan_style.safetensors'), join(dir, 'loras', 'jiangnan_style.safetensors'));
  mkdirSync(join(dir, 'output', 'neon'), { recursive: true });
  copyFileSync(
    join(STYLES, 'neon_night_style.safetensors'),
    join(dir, 'output', 'neon', 'neon_night_style.safetensors'),
  );
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  app = createApp({
    store,
    workspace: dir,
    policy: accessPolicy({ host: '127.0.0.1', port: 7860 }),
    version: '0',
    env: ENV,
  });
});

afterAll(async () => {
  await closeSharedRenderWorker(store);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(path: string, body?: unknown) {
  const init: RequestInit =
    body === undefined
      ? { headers: { host: HOST } }
      : { method: 'POST', headers: { host: HOST, 'content-type': 'application/json' }, body: JSON.stringify(body) };
  const response = await app.request(`http://${HOST}/sdapi/v1${path}`, init);
  return { status: response.status, body: (await response.json()) as unknown };
}

function locsOf(body: unknown): string[] {
  return sdapiValidationErrorSchema.parse(body).detail.map((d) => d.loc.join('.'));
}

describe('A1111-compatible API', () => {
  it('is in the OpenAPI document, every route', async () => {
    const response = await app.request(`http://${HOST}/api/openapi.json`, { headers: { host: HOST } });
    const paths = Object.keys(((await response.json()) as { paths: Record<string, unknown> }).paths);
    const sdapi = paths.filter((p) => p.startsWith('/sdapi/v1/')).sort();
    expect(sdapi).toEqual(
      [
        'interrupt',
        'loras',
        'options',
        'progress',
        'refresh-checkpoints',
        'refresh-loras',
        'samplers',
        'schedulers',
        'scripts',
        'sd-models',
        'txt2img',
      ].map((name) => `/sdapi/v1/${name}`),
    );
    expect(await call('/refresh-checkpoints', {})).toEqual({ status: 200, body: null });
    // What no route takes is FastAPI's JSON, not the web app's page.
    expect(await call('/memory')).toEqual({ status: 404, body: { detail: 'Not Found' } });
    expect(await call('/txt2img')).toEqual({ status: 405, body: { detail: 'Method Not Allowed' } });
  });

  it('lists the workspace checkpoints, LoRAs, samplers, schedulers and scripts in A1111 shapes', async () => {
    const models = sdModelListSchema.parse((await call('/sd-models')).body);
    expect(models).toHaveLength(1);
    expect(models[0]!.title).toMatch(/^demo-sd1\.safetensors \[[0-9a-f]{10}\]$/);
    expect(models[0]).toMatchObject({ model_name: 'demo-sd1', hash: models[0]!.sha256!.slice(0, 10), config: null });

    const loras = loraListSchema.parse((await call('/loras')).body);
    expect(loras.map((l) => l.name).sort()).toEqual(['jiangnan_style', 'neon_night_style']);
    expect(loras.every((l) => l.path.startsWith(dir) && typeof l.metadata === 'object')).toBe(true);

    const samplers = samplerListSchema.parse((await call('/samplers')).body);
    expect(samplers.map((s) => s.name)).toContain('Euler a');
    const schedulers = schedulerListSchema.parse((await call('/schedulers')).body);
    expect(schedulers.map((s) => s.name)).toEqual(['automatic', 'karras', 'exponential']);
    expect(scriptListSchema.parse((await call('/scripts')).body)).toEqual({ txt2img: [], img2img: [] });
  });

  it('reports and switches the checkpoint through /options, by any A1111 spelling', async () => {
    const [model] = sdModelListSchema.parse((await call('/sd-models')).body);
    const options = optionsSchema.parse((await call('/options')).body);
    expect(options.sd_model_checkpoint).toBe(model!.title);
    expect(options.sd_checkpoint_hash).toBe(model!.sha256);
    for (const spelling of [model!.title, 'demo-sd1', 'demo-sd1.safetensors', model!.hash!]) {
      expect(await call('/options', { sd_model_checkpoint: spelling })).toEqual({ status: 200, body: null });
    }
    // Open WebUI posts the whole object back: unchanged keys are fine.
    expect((await call('/options', options)).status).toBe(200);
    const unknown = await call('/options', { sd_model_checkpoint: 'sdxl_base.safetensors' });
    expect(unknown.status).toBe(422);
    expect(locsOf(unknown.body)).toEqual(['body.sd_model_checkpoint']);
    const changed = await call('/options', { CLIP_stop_at_last_layers: 2, samples_format: 'jpg' });
    expect(locsOf(changed.body)).toEqual(['body.CLIP_stop_at_last_layers', 'body.samples_format']);
  });

  it('answers a webuiapi txt2img with base64 PNGs whose `parameters` chunk is the infotext `info` lists', async () => {
    const { status, body } = await call(
      '/txt2img',
      webuiapiPayload({
        prompt: 'three houses and a stone bridge, <lora:jiangnan_style:0.8>',
        negative_prompt: 'blurry',
        seed: 1234,
        steps: 3,
        width: 64,
        height: 64,
        batch_size: 2,
      }),
    );
    expect(status, JSON.stringify(body)).toBe(200);
    const response = txt2imgResponseSchema.parse(body);
    expect(response.images).toHaveLength(2);
    const info = txt2imgInfoSchema.parse(JSON.parse(response.info));
    expect(info).toMatchObject({
      prompt: 'three houses and a stone bridge, <lora:jiangnan_style:0.8>',
      negative_prompt: 'blurry',
      seed: 1234,
      all_seeds: [1234, 1235],
      sampler_name: 'Euler a',
      steps: 3,
      cfg_scale: 7,
      width: 64,
      height: 64,
      batch_size: 2,
      sd_model_name: 'demo-sd1',
      index_of_first_image: 0,
    });
    expect(info.extra_generation_params['Lora hashes']).toMatch(/^jiangnan_style: [0-9a-f]{12}$/);
    for (const [i, image] of response.images.entries()) {
      expect(image.startsWith('data:')).toBe(false);
      const png = Buffer.from(image, 'base64');
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
      const text = readPngText(png, 'image').get(PARAMETERS_KEY)!;
      expect(text).toBe(info.infotexts[i]);
      expect(text).toContain(`Seed: ${1234 + i}, Size: 64x64, Model hash: `);
      expect(text.split('\n')[1]).toBe('Negative prompt: blurry');
    }
    // `parameters`: the request as read, defaults filled in (seed as sent, not resolved).
    expect(response.parameters).toMatchObject({ seed: 1234, steps: 3, sampler_name: 'Euler a', enable_hr: false });
  }, 300_000);

  it('renders with the base model loaded once while the prompts switch LoRAs, saves on request, hides on request', async () => {
    const base = { steps: 2, width: 64, height: 64, seed: 5 };
    for (const prompt of ['<lora:neon_night_style:1> night', '<lora:jiangnan_style:0.5> canal', 'plain'])
      expect((await call('/txt2img', { ...base, prompt })).status).toBe(200);
    expect(sharedRenderWorker({ store, env: ENV, workspace: dir }).stats()).toMatchObject({
      base_loads: 1,
      lora_loads: 2,
    });

    const saved = await call('/txt2img', { ...base, prompt: 'saved', save_images: true, send_images: false });
    expect(txt2imgResponseSchema.parse(saved.body).images).toEqual([]);
    const folder = join(dir, 'outputs', 'txt2img-images');
    expect(existsSync(folder)).toBe(true);
    const [day] = readdirSync(folder);
    expect(readdirSync(join(folder, day!))).toEqual(['00000-5.png']);
  }, 300_000);

  it('resolves `<lora:NAME>` through the style library first, and lists its promoted styles by name', async () => {
    const library = openSqliteLibrary(join(dir, '.lora-scripts', 'studio.db'), { workspace: dir });
    try {
      await library.addVersion({
        style: 'rainy_jiangnan',
        file: join(dir, 'output', 'neon', 'neon_night_style.safetensors'),
      });
      await library.changeStatus('rainy_jiangnan', 1, 'promote');
    } finally {
      await library.close();
    }
    const loras = loraListSchema.parse((await call('/loras')).body);
    expect(loras.map((l) => l.name).sort()).toEqual(['jiangnan_style', 'neon_night_style', 'rainy_jiangnan']);
    const { status, body } = await call('/txt2img', {
      prompt: '<lora:rainy_jiangnan:0.7> rain',
      steps: 2,
      width: 64,
      height: 64,
    });
    expect(status, JSON.stringify(body)).toBe(200);
    const info = txt2imgInfoSchema.parse(JSON.parse(txt2imgResponseSchema.parse(body).info));
    expect(info.infotexts[0]).toMatch(/Lora hashes: "rainy_jiangnan: [0-9a-f]{12}"/);
  }, 300_000);

  it('refuses fields it does not honour with a 422 naming each, before rendering anything', async () => {
    const { status, body } = await call(
      '/txt2img',
      webuiapiPayload({
        enable_hr: true,
        restore_faces: true,
        script_name: 'x/y/z plot',
        alwayson_scripts: { ControlNet: { args: [] } },
        override_settings: { CLIP_stop_at_last_layers: 2 },
        controlnet_units: [],
      }),
    );
    expect(status).toBe(422);
    expect(locsOf(body).sort()).toEqual(['body.controlnet_units']);
    const second = await call('/txt2img', webuiapiPayload({ enable_hr: true, restore_faces: true, styles: ['warm'] }));
    expect(locsOf(second.body).sort()).toEqual(['body.enable_hr', 'body.restore_faces', 'body.styles']);
    const scripts = await call(
      '/txt2img',
      webuiapiPayload({
        script_name: 'x/y/z plot',
        alwayson_scripts: { ControlNet: { args: [] } },
        override_settings: { CLIP_stop_at_last_layers: 2 },
      }),
    );
    expect(locsOf(scripts.body).sort()).toEqual([
      'body.alwayson_scripts.ControlNet',
      'body.override_settings.CLIP_stop_at_last_layers',
      'body.script_name',
    ]);
    const values = await call('/txt2img', {
      steps: 'many',
      width: 60,
      sampler_name: 'DPM fast',
      prompt: '<lora:nope:1>',
    });
    expect(locsOf(values.body)).toEqual(['body.steps']);
    expect(locsOf((await call('/txt2img', { width: 100 })).body)).toEqual(['body.width']);
    expect(locsOf((await call('/txt2img', { sampler_name: 'DPM fast', steps: 2 })).body)).toEqual([
      'body.sampler_name',
    ]);
    const lora = await call('/txt2img', { prompt: '<lora:jiangnan_styel:1> x', steps: 2 });
    expect(locsOf(lora.body)).toEqual(['body.prompt']);
    expect(JSON.stringify(lora.body)).toContain('jiangnan_style'); // the close name it means
    expect((await call('/txt2img', [1, 2])).status).toBe(422);
    const broken = await app.request(`http://${HOST}/sdapi/v1/txt2img`, {
      method: 'POST',
      headers: { host: HOST, 'content-type': 'application/json' },
      body: '{"prompt": ',
    });
    expect(broken.status).toBe(422);
    expect(locsOf(await broken.json())).toEqual(['body.0']);
    const huge = await call('/txt2img', { prompt: 'x'.repeat(2 * 1024 * 1024) });
    expect(huge.status).toBe(413);
    expect(errorBodySchema.parse(huge.body).error.code).toBe('body_too_large');
  });

  it('reports progress while a txt2img runs and stops it on /interrupt with the batches done so far', async () => {
    const idle = progressSchema.parse((await call('/progress')).body);
    expect([idle.progress, idle.state.job_count]).toEqual([0, 0]);
    const running = call('/txt2img', { prompt: 'long', steps: 150, width: 64, height: 64, n_iter: 3, seed: 9 });
    let seen = idle;
    while (seen.state.sampling_step === 0) {
      await new Promise((done) => setTimeout(done, 50));
      seen = progressSchema.parse((await call('/progress')).body);
    }
    expect(seen.state).toMatchObject({ job: 'scripts_txt2img', job_count: 3, sampling_steps: 150 });
    expect(seen.progress).toBeGreaterThan(0);
    expect(await call('/interrupt', {})).toEqual({ status: 200, body: {} });
    const { status, body } = await running;
    expect(status).toBe(200);
    const response = txt2imgResponseSchema.parse(body);
    expect(response.images.length).toBeLessThan(3);
    expect(JSON.parse(response.info).all_seeds).toHaveLength(response.images.length);
    const after = progressSchema.parse((await call('/progress')).body);
    expect(after.state.job_count).toBe(0);
  }, 300_000);
});

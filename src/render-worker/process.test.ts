// The render worker on the shipped demo base model with the two fixture LoRAs (tests/fixtures/lora/styles) and a blend
// of them: the base model loads once across renders with three different LoRAs, each LoRA once; PNGs carry their infotext; a cancelled render
// stops; a killed worker fails its render with a clear error and the next render starts a fresh one.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import { PARAMETERS_KEY, parseParametersText, readPngText, runGeneration } from '../generate/index.js';
import { combineLoraFiles } from '../lora/index.js';
import { startRenderWorker } from './process.js';
import type { RenderRequest } from './types.js';

const BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const STYLES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles');
const JIANGNAN = join(STYLES, 'jiangnan_style.safetensors');
const NEON = join(STYLES, 'neon_night_style.safetensors');
// One torch thread: the test machine is shared (see src/generate/run.test.ts).
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

function request(overrides: Partial<RenderRequest>): RenderRequest {
  return {
    base_model: BASE_MODEL,
    prompt: 'three houses and a stone bridge, canal town scene',
    negative_prompt: '',
    seeds: [7],
    steps: 3,
    cfg_scale: 5,
    width: 64,
    height: 64,
    sampler: 'Euler a',
    loras: [],
    ...overrides,
  };
}

const childOf = (worker: object) => (worker as { child?: ChildProcess }).child;

describe('render worker', () => {
  const worker = startRenderWorker({ env: ENV });
  afterAll(() => worker.close());

  it('loads the base model once and each LoRA once across renders that switch among three styles', async () => {
    const jiangnan = { path: JIANGNAN, weight: 0.8, name: 'jiangnan_style' };
    const neon = { path: NEON, weight: 0.8 };
    // A third style of its own: the two fixtures blended into one LoRA file (`lora-scripts combine`).
    const blendDir = mkdtempSync(join(tmpdir(), 'lora-worker-blend-'));
    const blend = { path: join(blendDir, 'blend_style.safetensors'), weight: 0.8 };
    await combineLoraFiles({
      inputs: [
        { path: JIANGNAN, weight: 0.5 },
        { path: NEON, weight: 0.5 },
      ],
      output: blend.path,
    });
    const first = await worker.render(request({ prompt: 'canal town, <lora:jiangnan_style:0.8>', loras: [jiangnan] }));
    const second = await worker.render(request({ loras: [neon], seeds: [7, 8] }));
    await worker.render(request({ loras: [blend] }));
    await worker.render(request({ loras: [jiangnan] }));
    await worker.render(request({ loras: [neon] }));
    await worker.render(request({ loras: [blend] }));
    await worker.render(request({ loras: [] }));
    expect(worker.stats()).toEqual({ base_loads: 1, lora_loads: 3, renders: 7 });
    rmSync(blendDir, { recursive: true, force: true });

    expect(first.map((i) => i.seed)).toEqual([7]);
    expect(second.map((i) => i.seed)).toEqual([7, 8]);
    const meta = await sharp(second[1]!.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    const text = readPngText(second[1]!.png, 'png').get(PARAMETERS_KEY);
    expect(text).toBe(second[1]!.infotext);
    const parameters = parseParametersText(text!, 'png');
    // A LoRA the prompt did not name gets its tag, so WebUI re-renders it from the PNG.
    expect(parameters.prompt).toBe('three houses and a stone bridge, canal town scene, <lora:neon_night_style:0.8>');
    expect([parameters.seed, parameters.steps, parameters.sampler, parameters.width, parameters.model]).toEqual([
      8,
      3,
      'Euler a',
      64,
      'demo-sd1',
    ]);
    expect(parameters.loraHashes.map((l) => l.name)).toEqual(['neon_night_style']);
    expect(parseParametersText(first[0]!.infotext, 'png').prompt).toBe('canal town, <lora:jiangnan_style:0.8>');
  }, 300_000);

  it('stops a running render when its signal aborts, drops a waiting one, and renders the next', async () => {
    const running = new AbortController();
    const waiting = new AbortController();
    const long = worker.render(request({ steps: 400 }), running.signal, () => running.abort());
    const queued = worker.render(request({}), waiting.signal);
    waiting.abort();
    await expect(queued).rejects.toMatchObject({ code: 'render_cancelled' });
    await expect(long).rejects.toMatchObject({ code: 'render_cancelled' });
    const before = worker.stats();
    const after = await worker.render(request({}));
    expect(after).toHaveLength(1);
    expect(worker.stats()).toEqual({ ...before, renders: before.renders + 1 });
    const aborted = new AbortController();
    aborted.abort();
    await expect(worker.render(request({}), aborted.signal)).rejects.toMatchObject({ code: 'render_cancelled' });
  }, 300_000);

  it('fails the render a dying worker was running and restarts on the next request', async () => {
    const dying = worker.render(request({ steps: 400 }), undefined, () => childOf(worker)?.kill('SIGKILL'));
    await expect(dying).rejects.toMatchObject({ code: 'render_worker_crashed' });
    await expect(dying).rejects.toThrow(/stopped unexpectedly/);
    const before = worker.stats();
    const images = await worker.render(request({ loras: [{ path: JIANGNAN, weight: 0.5 }] }));
    expect(images).toHaveLength(1);
    expect(worker.stats()).toEqual({
      base_loads: before.base_loads + 1,
      lora_loads: before.lora_loads + 1,
      renders: before.renders + 1,
    });
  }, 300_000);

  it('renders the very pixels `generate` renders with the same settings', async () => {
    const settings = { seeds: [21], steps: 4, sampler: 'DPM++ 2M Karras', cfg_scale: 6 };
    const prompt = 'a (stone bridge:1.3) over a canal, <lora:jiangnan_style:0.6>';
    const [fromWorker] = await worker.render(
      request({
        ...settings,
        prompt,
        negative_prompt: 'blurry',
        loras: [{ path: JIANGNAN, weight: 0.6, name: 'jiangnan_style' }],
      }),
    );
    const outDir = mkdtempSync(join(tmpdir(), 'render-vs-generate-'));
    try {
      const generated = await runGeneration({
        prompts: [prompt],
        negativePrompt: 'blurry',
        loraFiles: [],
        loraDirs: [STYLES],
        baseModel: BASE_MODEL,
        seed: 21,
        steps: 4,
        cfgScale: 6,
        sampler: 'DPM++ 2M Karras',
        scheduleType: 'Automatic',
        width: 64,
        height: 64,
        batchCount: 1,
        batchSize: 1,
        outDir,
        env: ENV,
        verbose: false,
        note: () => undefined,
      });
      const path = generated.images[0]!.path;
      expect(await sharp(fromWorker!.png).raw().toBuffer()).toEqual(await sharp(path).raw().toBuffer());
      // And the same infotext: a picture from either re-renders in WebUI or `generate --from-png` alike.
      expect(fromWorker!.infotext).toBe(readPngText(readFileSync(path), path).get(PARAMETERS_KEY));
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses a request the pipeline would refuse, naming the field, before anything starts', async () => {
    await expect(worker.render(request({ width: 60 }))).rejects.toMatchObject({
      code: 'invalid_render',
      culprit: 'width',
    });
    await expect(worker.render(request({ sampler: 'Nope' }))).rejects.toMatchObject({ code: 'unknown_sampler' });
  });
});

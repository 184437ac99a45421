// Batching against a fake worker that records its calls and renders only when the test lets it.
import { describe, expect, it } from 'vitest';
import type { RenderedImage, RenderRequest } from '../render-worker/index.js';
import { type CoverRenderer, createRenderBatcher } from './render-batcher.js';

/** A worker whose renders wait until `release()`; `calls` lists what it was asked, in order. */
function gatedWorker() {
  const calls: RenderRequest[] = [];
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const worker: CoverRenderer = {
    async render(request) {
      calls.push(request);
      await gate;
      return request.seeds.map((seed) => ({
        png: Buffer.from(`${request.prompt}#${seed}`),
        seed,
        infotext: request.prompt,
      }));
    },
  };
  return {
    worker,
    calls,
    release: () => {
      open();
      gate = Promise.resolve();
    },
  };
}

const request = (style: string, prompt: string, seeds: number[]): RenderRequest => ({
  base_model: '/ws/models/base.safetensors',
  prompt,
  negative_prompt: '',
  seeds,
  steps: 20,
  cfg_scale: 7,
  width: 64,
  height: 64,
  sampler: 'Euler a',
  loras: [{ path: `/ws/library/${style}.safetensors`, weight: 0.7, name: style }],
});

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((next) => setImmediate(next));
}

describe('createRenderBatcher', () => {
  it('sends the waiting requests of one style together, and those that differ only in seeds as one render', async () => {
    const { worker, calls, release } = gatedWorker();
    const batcher = createRenderBatcher(worker);
    const first = batcher.render(request('jiangnan', 'canal', [1]));
    await until(() => calls.length === 1); // the worker is busy with it
    const later = [
      batcher.render(request('jiangnan', 'canal', [2, 3])),
      batcher.render(request('hotpot', 'night', [4])),
      batcher.render(request('jiangnan', 'canal', [5])),
      batcher.render(request('hotpot', 'night', [6])),
      batcher.render(request('jiangnan', 'bridge', [7])),
    ];
    await until(() => batcher.waiting() === later.length);
    release();
    const results = await Promise.all([first, ...later]);

    expect(calls.map((c) => [c.loras[0]!.name, c.prompt, c.seeds])).toEqual([
      ['jiangnan', 'canal', [1]],
      ['jiangnan', 'canal', [2, 3, 5]],
      ['jiangnan', 'bridge', [7]],
      ['hotpot', 'night', [4, 6]],
    ]);
    const seedsOf = (images: RenderedImage[]) => images.map((i) => i.seed);
    expect(results.map(seedsOf)).toEqual([[1], [2, 3], [4], [5], [6], [7]]);
    expect(results[1]!.map((i) => i.png.toString())).toEqual(['canal#2', 'canal#3']);
  });

  it('fails every caller of a failed render, and renders the next batch after it', async () => {
    let fail = true;
    const worker: CoverRenderer = {
      async render(r) {
        if (fail) throw new Error('engine crashed');
        return r.seeds.map((seed) => ({ png: Buffer.alloc(0), seed, infotext: '' }));
      },
    };
    const batcher = createRenderBatcher(worker);
    const failed = [batcher.render(request('a', 'p', [1])), batcher.render(request('a', 'p', [2]))];
    for (const f of failed) await expect(f).rejects.toThrow('engine crashed');
    fail = false;
    expect((await batcher.render(request('a', 'p', [3]))).map((i) => i.seed)).toEqual([3]);
  });

  it('drops a request whose signal aborted while it waited', async () => {
    const { worker, calls, release } = gatedWorker();
    const batcher = createRenderBatcher(worker);
    const first = batcher.render(request('a', 'p', [1]));
    await until(() => calls.length === 1);
    const controller = new AbortController();
    const dropped = batcher.render(request('b', 'q', [2]), controller.signal);
    controller.abort(new Error('client went away'));
    release();
    await first;
    await expect(dropped).rejects.toThrow('client went away');
    expect(calls).toHaveLength(1);
  });

  it('with several renders in flight, sends each settings group as its own render at once (one per worker)', async () => {
    const { worker, calls, release } = gatedWorker();
    const batcher = createRenderBatcher(worker, { inFlight: 3 });
    const covers = [
      batcher.render(request('a', 'hangzhou', [1])),
      batcher.render(request('a', 'suzhou', [2])),
      batcher.render(request('a', 'hangzhou', [3])),
      batcher.render(request('b', 'guangzhou', [4])),
    ];
    // Three lanes, three groups: all three renders are out before any of them ends.
    await until(() => calls.length === 3);
    expect(calls.map((call) => [call.prompt, call.seeds])).toEqual([
      ['hangzhou', [1, 3]],
      ['suzhou', [2]],
      ['guangzhou', [4]],
    ]);
    release();
    const images = await Promise.all(covers);
    expect(images.map((each) => each.map((image) => image.png.toString()))).toEqual([
      ['hangzhou#1'],
      ['suzhou#2'],
      ['hangzhou#3'],
      ['guangzhou#4'],
    ]);
  });

  it('keeps one render at a time by default, however many requests wait', async () => {
    const { worker, calls, release } = gatedWorker();
    const batcher = createRenderBatcher(worker);
    const covers = [batcher.render(request('a', 'x', [1])), batcher.render(request('b', 'y', [2]))];
    await until(() => calls.length === 1);
    await new Promise((next) => setTimeout(next, 20));
    expect(calls).toHaveLength(1);
    release();
    await Promise.all(covers);
    expect(calls).toHaveLength(2);
  });
});

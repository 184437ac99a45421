// The render queue end to end: a real redis-server, the studio's queue client, and consumers in this process each with
// a real engine on the demo base model. The consumers see the workspace through another path (a symlink), as a worker
// sees the studio's shared workspace through its own mount.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import { type RenderWorker, startRenderWorker } from '../render-worker/index.js';
import { sharedRenderWorker } from '../server/render-pool.js';
import type { JobStore } from '../store/index.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../testing/demo-workspace.js';
import { hasRedis, type RedisServer, startRedisServer } from '../testing/redis-server.js';
import { waitFor } from '../testing/serve-process.js';
import { QUEUE_PREFIX, queueLocation, RENDER_QUEUE } from './connection.js';
import { queueRenderWorker } from './render-client.js';
import { type RenderConsumer, startRenderConsumer } from './render-consumer.js';
import type { QueuedRenderRequest, RenderOutcome } from './render-protocol.js';

const JIANGNAN = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');

describe.skipIf(!hasRedis())('render queue', () => {
  let redis: RedisServer;
  let workspace: string;
  let workerMount: string;
  let client: RenderWorker;
  let events: QueueEvents;
  /** Every answer a worker sent, in order (the test's own view of the events stream). */
  const outcomes: RenderOutcome[] = [];
  const consumers: RenderConsumer[] = [];

  const request = (overrides: Partial<QueuedRenderRequest>): QueuedRenderRequest => ({
    base_model: join(workspace, 'models', 'demo-sd1.safetensors'),
    prompt: 'three houses and a stone bridge, canal town scene',
    negative_prompt: '',
    seeds: [7],
    steps: 3,
    cfg_scale: 5,
    width: 64,
    height: 64,
    sampler: 'Euler a',
    loras: [{ path: join(workspace, 'styles', 'jiangnan_style.safetensors'), weight: 0.8, name: 'jiangnan_style' }],
    ...overrides,
  });

  const consumer = async (workerName: string, preloadModel?: string) => {
    const started = startRenderConsumer({
      location: queueLocation(redis.url),
      workspace: workerMount,
      env: ENGINE_TEST_ENV,
      workerName,
      ...(preloadModel === undefined ? {} : { preloadModel }),
    });
    consumers.push(started);
    await started.whenReady();
    return started;
  };

  beforeAll(async () => {
    redis = await startRedisServer();
    workspace = await makeDemoWorkspace({ prefix: 'render-queue-', count: 1 });
    mkdirSync(join(workspace, 'styles'));
    copyFileSync(JIANGNAN, join(workspace, 'styles', 'jiangnan_style.safetensors'));
    workerMount = join(mkdtempSync(join(tmpdir(), 'render-queue-mount-')), 'studio');
    symlinkSync(workspace, workerMount);
    client = queueRenderWorker(queueLocation(redis.url), { workspace });
    events = new QueueEvents(RENDER_QUEUE, { connection: { url: redis.url }, prefix: QUEUE_PREFIX });
    events.on('completed', ({ returnvalue }) => outcomes.push(returnvalue as unknown as RenderOutcome));
    await events.waitUntilReady();
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await Promise.all(consumers.map((c) => c.stop()));
    await events?.close();
    await redis?.stop();
    rmSync(workspace, { recursive: true, force: true });
  }, 60_000);

  it('renders through a worker the very PNG bytes a local render worker gives, loading the base model once', async () => {
    const first = await consumer('worker-a');
    const local = startRenderWorker({ env: ENGINE_TEST_ENV });
    try {
      const [expected] = await local.render(request({}));
      const [queued] = await client.render(request({}));
      expect(queued!.seed).toBe(7);
      expect(queued!.infotext).toBe(expected!.infotext);
      expect(queued!.png.equals(expected!.png)).toBe(true);
    } finally {
      await local.close();
    }
    // Five more, switching the LoRA on and off and asking at batch priority: still one base-model load.
    for (const [i, loras] of [[], undefined, [], undefined, []].entries()) {
      const images = await client.render(request({ seeds: [i], priority: 'batch', ...(loras ? { loras } : {}) }));
      expect(images.map((image) => image.seed)).toEqual([i]);
    }
    expect(first.stats()).toEqual({ base_loads: 1, lora_loads: 1, renders: 6 });
    expect(client.stats()).toEqual({ base_loads: 1, lora_loads: 1, renders: 6 });
  }, 300_000);

  it('answers a failed render with the error class and code the local render worker throws', async () => {
    const local = startRenderWorker({ env: ENGINE_TEST_ENV });
    try {
      const failures = [
        request({ base_model: join(workspace, 'models', 'gone.safetensors') }), // the tool's own error: a UsageError
        request({ loras: [{ path: join(workspace, 'styles', 'gone.safetensors'), weight: 1 }] }), // a raw ENOENT
      ];
      for (const failing of failures) {
        const localError = (await local.render(failing).catch((error: unknown) => error)) as Error & { code: string };
        const queuedError = (await client.render(failing).catch((error: unknown) => error)) as Error;
        expect(localError).toBeInstanceOf(Error);
        expect(queuedError.constructor).toBe(localError.constructor);
        expect(queuedError).toMatchObject({ code: localError.code });
      }
    } finally {
      await local.close();
    }
  }, 300_000);

  it('takes a waiting render off the queue when its signal aborts, and stops a running one on the worker', async () => {
    const queue = new Queue(RENDER_QUEUE, { connection: { url: redis.url }, prefix: QUEUE_PREFIX });
    try {
      const running = new AbortController();
      const waiting = new AbortController();
      let progressed = false;
      const long = client.render(request({ steps: 400 }), running.signal, () => {
        progressed = true;
      });
      const queued = client.render(request({ seeds: [99] }), waiting.signal);
      await waitFor(async () => progressed && (await queue.getPrioritizedCount()) === 1, {
        what: 'the long render running and the other waiting',
        timeoutMs: 120_000,
      });
      waiting.abort();
      await expect(queued).rejects.toMatchObject({ code: 'render_cancelled' });
      await waitFor(async () => (await queue.getPrioritizedCount()) === 0, {
        what: 'the waiting job removed',
        timeoutMs: 30_000,
      });
      const answered = outcomes.length;
      running.abort();
      await expect(long).rejects.toMatchObject({ code: 'render_cancelled' });
      // The worker stopped it (its answer says so) rather than rendering 400 steps for nobody.
      await waitFor(async () => outcomes.length > answered, { what: "the cancelled job's answer", timeoutMs: 120_000 });
      expect(outcomes.at(-1)).toMatchObject({ error: { code: 'render_cancelled' } });
      // The waiting one never ran: no answer carries seed 99.
      const images = await client.render(request({ seeds: [5] }));
      expect(images).toHaveLength(1);
      const seeds = outcomes.flatMap((o) => ('images' in o ? o.images.map((image) => image.seed) : []));
      expect(seeds).not.toContain(99);
    } finally {
      await queue.close();
    }
  }, 300_000);

  it('runs an interactive render before a batch render that has waited longer', async () => {
    const busy = new AbortController();
    let progressed = false;
    const long = client.render(request({ steps: 400 }), busy.signal, () => {
      progressed = true;
    });
    await waitFor(async () => progressed, { what: 'the worker busy', timeoutMs: 120_000 });
    const before = outcomes.length;
    const batch = client.render(request({ seeds: [301], priority: 'batch' }));
    const interactive = client.render(request({ seeds: [302] }));
    // Both wait in Redis before the worker is free.
    const queue = new Queue(RENDER_QUEUE, { connection: { url: redis.url }, prefix: QUEUE_PREFIX });
    await waitFor(async () => (await queue.getPrioritizedCount()) === 2, { what: 'both waiting', timeoutMs: 30_000 });
    await queue.close();
    busy.abort();
    await expect(long).rejects.toMatchObject({ code: 'render_cancelled' });
    await Promise.all([batch, interactive]);
    await waitFor(async () => outcomes.length >= before + 3, { what: 'three answers', timeoutMs: 30_000 });
    const seeds = outcomes.slice(before).flatMap((o) => ('images' in o ? o.images.map((image) => image.seed) : []));
    expect(seeds).toEqual([302, 301]);
  }, 300_000);

  it('shares a burst of renders between two workers, each loading the base model once', async () => {
    const second = await consumer('worker-b');
    const before = outcomes.length;
    const rendersBefore = consumers[0]!.stats().renders;
    const burst = await Promise.all([1, 2, 3, 4, 5, 6].map((seed) => client.render(request({ seeds: [seed] }))));
    expect(burst.map(([image]) => image!.seed)).toEqual([1, 2, 3, 4, 5, 6]);
    // The test reads the events stream on its own connection: it may see the last answers a moment later.
    await waitFor(async () => outcomes.length >= before + 6, { what: 'six answers', timeoutMs: 30_000 });
    const answeredBy = new Set(outcomes.slice(before).map((o) => o.worker));
    expect([...answeredBy].sort()).toEqual(['worker-a', 'worker-b']);
    expect(second.stats().renders).toBeGreaterThan(0);
    expect(consumers[0]!.stats().renders + second.stats().renders).toBe(rendersBefore + 6);
    expect([consumers[0]!.stats().base_loads, second.stats().base_loads]).toEqual([1, 1]);
    // Each answer carries BullMQ's timestamps of its job: added, then taken by the worker.
    for (const outcome of outcomes) expect(outcome.timing.started).toBeGreaterThanOrEqual(outcome.timing.submitted);
  }, 300_000);

  it('is what the server renders with when it runs with --queue', async () => {
    const store = {} as JobStore; // the pool keys its worker by the server's store; nothing else is used
    const pooled = sharedRenderWorker({ store, env: ENGINE_TEST_ENV, workspace, queue: queueLocation(redis.url) });
    const before = outcomes.length;
    const [image] = await pooled.render(request({ seeds: [42] }));
    expect(image!.seed).toBe(42);
    // Answered by a queue worker, not an engine in this process (the test's own reader may see the answer later).
    await waitFor(async () => outcomes.length > before, { what: 'the answer on the events stream', timeoutMs: 30_000 });
    await pooled.close();
  }, 300_000);

  it('with a preload, holds the base model before its first job (`worker --preload`)', async () => {
    const warm = await consumer('preloaded', 'models/demo-sd1.safetensors');
    // The preload is one 1-step render of its own; no job has been taken.
    expect(warm.stats()).toMatchObject({ base_loads: 1, lora_loads: 0, renders: 1 });
  }, 180_000);
});

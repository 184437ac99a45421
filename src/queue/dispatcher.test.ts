// The studio's queue side with real Redis, a real SQLite store and in-process BullMQ workers running test executors:
// jobs run and report into the store in order, by priority; cancels, retries, the dead-letter list and a restart.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import type { JobExecutor } from '../server/runner/index.js';
import { type Job, type JobStore, openSqliteStore } from '../store/index.js';
import { hasRedis, type RedisServer, startRedisServer } from '../testing/redis-server.js';
import { waitFor } from '../testing/serve-process.js';
import { JOB_QUEUE, QUEUE_PREFIX, type QueueLocation, queueLocation } from './connection.js';
import { type QueueDispatcher, startQueueDispatcher } from './dispatcher.js';
import { openQueueInspector } from './inspector.js';
import { withQueueDevices } from './queue-devices.js';
import { type QueueWorker, startQueueWorker } from './worker.js';
import { DEFAULT_QUEUE_TIMING, type QueueTiming } from './timing.js';

const TIMING: QueueTiming = {
  ...DEFAULT_QUEUE_TIMING,
  lockMs: 2_000,
  stalledCheckMs: 1_000,
  heartbeatMs: 200,
  pollMs: 50,
  flushMs: 20,
  backoffMs: 50,
};
const WAIT_MS = 30_000;

let redisServer: RedisServer;
let location: QueueLocation;
let dir: string;
let store: JobStore;
const stops: (() => Promise<void>)[] = [];

beforeAll(async () => {
  redisServer = await startRedisServer();
  location = queueLocation(redisServer.url);
});
afterAll(async () => {
  await redisServer?.stop();
});
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-queue-'));
  store = await openSqliteStore(join(dir, 'studio.db'));
  const redis = new Redis(location.url);
  await redis.flushall();
  await redis.quit();
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function dispatcher(): Promise<QueueDispatcher> {
  const started = await startQueueDispatcher({ store, location, timing: TIMING, logError: () => {} });
  stops.push(() => started.stop());
  return started;
}

function worker(execute: JobExecutor, name = 'w1'): QueueWorker {
  const started = startQueueWorker({ location, execute, name, timing: TIMING, logError: () => {} });
  stops.push(() => started.stop());
  return started;
}

function newJob(kind: Job['kind'], config: Record<string, unknown> = {}) {
  return { kind, device: 'default', config };
}

async function submit(kind: Job['kind'], config: Record<string, unknown> = {}): Promise<Job> {
  return store.createJob(newJob(kind, config));
}

function waitForStatus(id: string, status: Job['status']): Promise<Job> {
  return waitFor(
    async () => {
      const job = await store.getJob(id);
      return job?.status === status ? job : null;
    },
    { what: `job ${id} to be ${status}`, timeoutMs: WAIT_MS },
  );
}

/** The statuses the store recorded for the job, in order. */
async function statusHistory(id: string): Promise<string[]> {
  return (await store.readUpdates(id)).flatMap((update) => (update.type === 'status' ? [update.status] : []));
}

const chatty: JobExecutor = async (job, { log, progress, update }) => {
  for (let step = 1; step <= 5; step++) {
    log([`line ${step}`]);
    progress({ step, total: 5 });
    update({ type: 'warning', code: `w${step}`, message: `warning ${step}`, hint: null });
  }
  return [`out/${job.id}.txt`];
};

describe.skipIf(!hasRedis())('the studio on a queue', () => {
  it('runs a job on a worker; its log, progress and updates land in the store in order, then done', async () => {
    const studio = await dispatcher();
    worker(chatty);
    const { id } = await submit('prepare');
    studio.wake();
    const job = await waitForStatus(id, 'done');
    expect(job.outputs).toEqual([`out/${id}.txt`]);
    expect(job.progress).toEqual({ step: 5, total: 5 });
    expect(job.attempts).toBe(1);
    const log = (await store.readLog(id)).map((line) => line.text);
    expect(log).toEqual(['run 1 on worker w1', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5']);
    const updates = await store.readUpdates(id);
    const warnings = updates.flatMap((update) => (update.type === 'warning' ? [update.code] : []));
    expect(warnings).toEqual(['w1', 'w2', 'w3', 'w4', 'w5']);
    expect(await statusHistory(id)).toEqual(['queued', 'running', 'done']);
  });

  it('runs jobs on several workers at once, each job its own device in the store', async () => {
    const studio = await dispatcher();
    let arrivals = 0;
    let bothRunning: () => void = () => {};
    const barrier = new Promise<void>((done) => {
      bothRunning = done;
    });
    // Each run waits for the other to start: they end only if the store let both be running at once.
    const together: JobExecutor = async () => {
      if (++arrivals === 2) bothRunning();
      await barrier;
      return [];
    };
    worker(together, 'w1');
    worker(together, 'w2');
    const queueStore = withQueueDevices(store);
    const jobs = [await queueStore.createJob(newJob('train')), await queueStore.createJob(newJob('train'))];
    studio.wake();
    for (const { id } of jobs) await waitForStatus(id, 'done');
    expect(jobs.map((job) => job.device)).toEqual(jobs.map((job) => `queue:${job.id}`));
    const workerLines = await Promise.all(jobs.map(async ({ id }) => (await store.readLog(id))[0]?.text));
    expect(workerLines.sort()).toEqual(['run 1 on worker w1', 'run 1 on worker w2']);
  });

  it('takes waiting jobs by priority: generate, then prepare, then train', async () => {
    await dispatcher();
    const train = await submit('train');
    const prepare = await submit('prepare');
    const generate = await submit('generate');
    const queue = new Queue(JOB_QUEUE, { connection: { url: location.url }, prefix: QUEUE_PREFIX });
    stops.push(() => queue.close());
    await waitFor(async () => (await queue.getJobCounts('prioritized')).prioritized === 3, {
      what: 'three jobs on the queue',
      timeoutMs: WAIT_MS,
    });
    const order: string[] = [];
    worker(async (job) => {
      order.push(job.id);
      return [];
    });
    for (const { id } of [train, prepare, generate]) await waitForStatus(id, 'done');
    expect(order).toEqual([generate.id, prepare.id, train.id]);
  });

  it('cancels a waiting job (taken off the queue) and a running one (its worker stops it)', async () => {
    const studio = await dispatcher();
    const waiting = await submit('prepare');
    const queue = new Queue(JOB_QUEUE, { connection: { url: location.url }, prefix: QUEUE_PREFIX });
    stops.push(() => queue.close());
    await waitFor(async () => (await queue.getJob(`${waiting.id}.1`)) !== undefined, {
      what: 'the job on the queue',
      timeoutMs: WAIT_MS,
    });
    await store.applyEvent(waiting.id, { type: 'cancel' });
    studio.wake();
    await waitFor(async () => (await queue.getJob(`${waiting.id}.1`)) === undefined, {
      what: 'the cancelled job off the queue',
      timeoutMs: WAIT_MS,
    });

    let sawAbort = false;
    worker(async (_job, { signal, log }) => {
      log(['working']);
      await new Promise<void>((done) => signal.addEventListener('abort', () => done()));
      sawAbort = true;
      throw new Error('stopped');
    });
    const running = await submit('train');
    studio.wake();
    await waitForStatus(running.id, 'running');
    await store.applyEvent(running.id, { type: 'cancel' });
    studio.wake();
    await waitFor(async () => (await queue.getJobState(`${running.id}.1`)) === 'completed', {
      what: 'the worker to stop the cancelled job',
      timeoutMs: WAIT_MS,
    });
    expect(sawAbort).toBe(true);
    expect((await queue.getJob(`${running.id}.1`))?.returnvalue).toEqual({ status: 'cancelled' });
    expect(await statusHistory(running.id)).toEqual(['queued', 'running', 'cancelled']);
    expect(await statusHistory(waiting.id)).toEqual(['queued', 'cancelled']);
  });

  it('retries a crashing job with backoff, then puts it on the dead-letter list with its reason', async () => {
    await dispatcher();
    let runs = 0;
    worker(async (job) => {
      runs++;
      if (job.kind === 'merge')
        throw new UsageError('no such LoRA', { code: 'lora_missing', culprit: 'a.safetensors' });
      throw new Error(`disk on fire (run ${runs})`);
    });
    const crashing = await submit('prepare');
    const failed = await waitForStatus(crashing.id, 'failed');
    expect(failed.error).toEqual({ code: 'internal_error', message: 'disk on fire (run 3)' });
    expect(failed.attempts).toBe(3);
    const log = (await store.readLog(crashing.id)).map((line) => line.text);
    expect(log.filter((line) => line.startsWith('run failed'))).toEqual([
      'run failed (internal_error: disk on fire (run 1)); 2 more run(s) to go',
      'run failed (internal_error: disk on fire (run 2)); 1 more run(s) to go',
    ]);
    expect(await statusHistory(crashing.id)).toEqual([
      'queued',
      'running',
      'interrupted',
      'queued',
      'running',
      'interrupted',
      'queued',
      'running',
      'failed',
    ]);

    // The job's own error fails the same way every time: one run, no retries.
    const wrong = await submit('merge');
    const wrongFailed = await waitForStatus(wrong.id, 'failed');
    expect(wrongFailed.error).toEqual({ code: 'lora_missing', message: 'a.safetensors: no such LoRA' });
    expect(wrongFailed.attempts).toBe(1);

    const inspector = openQueueInspector(location);
    stops.push(() => inspector.close());
    const letters = await inspector.deadLetters(10);
    expect(letters.map(({ job_id, kind, reason, runs }) => ({ job_id, kind, reason, runs }))).toEqual([
      {
        job_id: wrong.id,
        kind: 'merge',
        reason: { code: 'lora_missing', message: 'a.safetensors: no such LoRA' },
        runs: 1,
      },
      {
        job_id: crashing.id,
        kind: 'prepare',
        reason: { code: 'internal_error', message: 'disk on fire (run 3)' },
        runs: 3,
      },
    ]);
  });

  it('a stopping worker hands its running job back: queued again, then resumed by another worker', async () => {
    await dispatcher();
    const first = worker(async (_job, { signal, log }) => {
      log(['first run']);
      await new Promise<void>((done) => signal.addEventListener('abort', () => done()));
      throw new Error('stopped by its signal');
    }, 'leaving');
    const { id } = await submit('train');
    await waitForStatus(id, 'running');
    await first.stop();
    await waitForStatus(id, 'queued');
    const resumedFrom: (string | null)[] = [];
    worker(async (job) => {
      resumedFrom.push(job.resume_from);
      return [];
    }, 'staying');
    const done = await waitForStatus(id, 'done');
    expect(done.attempts).toBe(2);
    expect(resumedFrom).toEqual(['auto']);
    expect(await statusHistory(id)).toEqual(['queued', 'running', 'interrupted', 'queued', 'running', 'done']);
    expect((await store.readLog(id)).map((line) => line.text)).toEqual([
      'run 1 on worker leaving',
      'first run',
      'run 2 on worker staying',
    ]);
  });

  it('lists live workers from their heartbeats, and drops one that stopped', async () => {
    const inspector = openQueueInspector(location);
    stops.push(() => inspector.close());
    const first = worker(chatty, 'gpu-1');
    worker(chatty, 'gpu-2');
    await waitFor(async () => (await inspector.workers()).length === 2, { what: 'two workers', timeoutMs: WAIT_MS });
    const [one] = await inspector.workers();
    expect(one).toMatchObject({ name: 'gpu-1', pid: process.pid, device: 'auto', concurrency: 1, jobs: [] });
    await first.stop();
    expect((await inspector.workers()).map((entry) => entry.name)).toEqual(['gpu-2']);
  });

  it('settles, on restart, a job that ended while the studio was down, with the log written meanwhile', async () => {
    const first = await dispatcher();
    let release: () => void = () => {};
    const released = new Promise<void>((done) => {
      release = done;
    });
    worker(async (job, { log }) => {
      log(['before the studio stopped']);
      await released;
      log(['after the studio stopped']);
      return [`out/${job.id}`];
    });
    const { id } = await submit('generate');
    await waitFor(async () => (await store.readLog(id)).length === 2, { what: 'the first line', timeoutMs: WAIT_MS });
    await first.stop();
    release();
    const queue = new Queue(JOB_QUEUE, { connection: { url: location.url }, prefix: QUEUE_PREFIX });
    stops.push(() => queue.close());
    await waitFor(async () => (await queue.getJobState(`${id}.1`)) === 'completed', {
      what: 'the job to end on the queue',
      timeoutMs: WAIT_MS,
    });
    expect((await store.getJob(id))?.status).toBe('running');

    await dispatcher();
    const job = await waitForStatus(id, 'done');
    expect(job.outputs).toEqual([`out/${id}`]);
    expect((await store.readLog(id)).map((line) => line.text)).toEqual([
      'run 1 on worker w1',
      'before the studio stopped',
      'after the studio stopped',
    ]);
    expect(await statusHistory(id)).toEqual(['queued', 'running', 'done']);
  });

  it('settles, on start, a job whose end no studio heard (no events to read), from the queue’s record', async () => {
    const job = await submit('prepare');
    // A studio that dispatched and started it, then died before any event was read, and lost its place in them.
    await store.applyEvent(job.id, { type: 'start' });
    const queue = new Queue(JOB_QUEUE, { connection: { url: location.url }, prefix: QUEUE_PREFIX });
    stops.push(() => queue.close());
    await queue.add('prepare', job, { jobId: `${job.id}.1` });
    const redis = new Redis(location.url);
    await redis.hset(`${QUEUE_PREFIX}:in-flight`, job.id, `${job.id}.1`);
    await redis.quit();
    worker(async () => ['prepared/x/manifest.jsonl']);
    await waitFor(async () => (await queue.getJobState(`${job.id}.1`)) === 'completed', {
      what: 'the job to end on the queue',
      timeoutMs: WAIT_MS,
    });

    const lines: string[] = [];
    const started = await startQueueDispatcher({ store, location, timing: TIMING, log: (line) => lines.push(line) });
    stops.push(() => started.stop());
    expect(lines).toEqual([`job ${job.id} ended on the queue unseen; settled from its record`]);
    const done = await store.getJob(job.id);
    expect(done?.status).toBe('done');
    expect(done?.outputs).toEqual(['prepared/x/manifest.jsonl']);
    expect(await statusHistory(job.id)).toEqual(['queued', 'running', 'done']);
  });

  it('queues again, on restart, a running job that is no longer on the queue (Redis emptied)', async () => {
    const job = await submit('train');
    await store.applyEvent(job.id, { type: 'start' });
    const lines: string[] = [];
    const started = await startQueueDispatcher({ store, location, timing: TIMING, log: (line) => lines.push(line) });
    stops.push(() => started.stop());
    expect(lines).toEqual([
      `job ${job.id} was running but is no longer on the queue; queued again from its last saved state`,
    ]);
    const seen: (string | null)[] = [];
    worker(async (run) => {
      seen.push(run.resume_from);
      return [];
    });
    const done = await waitForStatus(job.id, 'done');
    expect(seen).toEqual(['auto']);
    expect(done.attempts).toBe(2);
  });
});

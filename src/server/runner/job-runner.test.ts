// The queue runner on a real SQLite store with fake executors: order, one at a time, failure, cancel and stop.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../errors.js';
import { type Job, type JobStatus, type JobStore, openSqliteStore } from '../../store/index.js';
import { type JobExecutor, type JobRunner, startJobRunner } from './job-runner.js';

const DEVICE = 'default';
// Generous: the machine running the tests may be busy; the waits end as soon as the status is reached.
const WAIT_MS = 20_000;

let dir: string;
let store: JobStore;
let runners: JobRunner[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-runner-'));
  store = openSqliteStore(join(dir, 'studio.db'));
  runners = [];
});

afterEach(async () => {
  await Promise.all(runners.map((runner) => runner.stop()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function start(execute: JobExecutor): JobRunner {
  const runner = startJobRunner({ store, device: DEVICE, execute, pollMs: 20 });
  runners.push(runner);
  return runner;
}

function queue(name: string): Promise<Job> {
  return store.createJob({ id: name, kind: 'train', device: DEVICE, config: { name } });
}

async function waitForStatus(id: string, status: JobStatus): Promise<Job> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const job = await store.getJob(id);
    if (job?.status === status) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is ${job?.status}, not ${status}, after ${WAIT_MS} ms`);
    await new Promise((done) => setTimeout(done, 10));
  }
}

/** An executor that runs until the test releases it (or its signal aborts), recording what it saw. */
function gatedExecutor() {
  const started: string[] = [];
  const releases = new Map<string, () => void>();
  let running = 0;
  let mostAtOnce = 0;
  const execute: JobExecutor = async (job, { signal, log, progress }) => {
    started.push(job.id);
    running += 1;
    mostAtOnce = Math.max(mostAtOnce, running);
    log([`start ${job.id}`]);
    progress({ step: 1, total: 2, loss: 0.5 });
    try {
      await new Promise<void>((done, fail) => {
        releases.set(job.id, done);
        signal.addEventListener('abort', () => fail(new Error('aborted')), { once: true });
      });
    } finally {
      running -= 1;
    }
    log([`end ${job.id}`]);
    return [`output/${job.id}.safetensors`];
  };
  const release = async (id: string) => {
    while (!releases.has(id)) await new Promise((done) => setTimeout(done, 5));
    releases.get(id)!();
  };
  return { execute, started, release, mostAtOnce: () => mostAtOnce };
}

describe('startJobRunner', () => {
  it('runs queued jobs oldest first, one at a time, to done with their outputs, log and progress', async () => {
    const gate = gatedExecutor();
    await queue('a');
    await queue('b');
    await queue('c');
    start(gate.execute);
    for (const id of ['a', 'b', 'c']) {
      await waitForStatus(id, 'running');
      await gate.release(id);
      await waitForStatus(id, 'done');
    }
    expect(gate.started).toEqual(['a', 'b', 'c']);
    expect(gate.mostAtOnce()).toBe(1);
    const done = await store.getJob('b');
    expect(done?.outputs).toEqual(['output/b.safetensors']);
    expect(done?.progress).toEqual({ step: 1, total: 2, loss: 0.5 });
    expect((await store.readLog('b')).map((line) => line.text)).toEqual(['start b', 'end b']);
  });

  it('picks up a job queued after it went idle', async () => {
    const gate = gatedExecutor();
    const runner = start(gate.execute);
    await queue('late');
    runner.wake();
    await gate.release('late');
    expect((await waitForStatus('late', 'done')).attempts).toBe(1);
  });

  it('ends a job whose executor throws as failed, with the code, message and hint of the error', async () => {
    start(async () => {
      throw new ConfigError('must be a whole number', {
        code: 'invalid_value',
        culprit: 'lora_rank',
        hint: 'use 4 to 128',
      });
    });
    await queue('bad');
    const failed = await waitForStatus('bad', 'failed');
    expect(failed.error).toEqual({
      code: 'invalid_value',
      message: 'lora_rank: must be a whole number',
      hint: 'use 4 to 128',
    });
    expect(failed.outputs).toEqual([]);
  });

  it('keeps the message of an error that is not a LoraScriptsError', async () => {
    start(async () => {
      throw new TypeError('x is not a function');
    });
    await queue('bug');
    expect((await waitForStatus('bug', 'failed')).error).toEqual({
      code: 'internal_error',
      message: 'x is not a function',
    });
  });

  it('records a job that ends with its outputs during stop() as done', async () => {
    let finish: () => void = () => {};
    const runner = start(async (_job, { signal }) => {
      await new Promise<void>((done) => {
        finish = done;
        signal.addEventListener('abort', () => finish(), { once: true });
      });
      return ['output/last.safetensors'];
    });
    await queue('last');
    await waitForStatus('last', 'running');
    await runner.stop();
    expect(await store.getJob('last')).toMatchObject({ status: 'done', outputs: ['output/last.safetensors'] });
  });

  it('aborts the running job when it is cancelled, and goes on with the next one', async () => {
    const gate = gatedExecutor();
    await queue('long');
    await queue('next');
    const runner = start(gate.execute);
    await waitForStatus('long', 'running');
    await store.applyEvent('long', { type: 'cancel' });
    runner.wake();
    await gate.release('next');
    await waitForStatus('next', 'done');
    const cancelled = await store.getJob('long');
    expect(cancelled?.status).toBe('cancelled');
    expect(cancelled?.error).toBeNull();
    expect((await store.readLog('long')).map((line) => line.text)).toEqual(['start long']);
  });

  it('stop() aborts the running job, waits for it and leaves it interrupted, so it can resume', async () => {
    const gate = gatedExecutor();
    await queue('a');
    await queue('b');
    const runner = start(gate.execute);
    await waitForStatus('a', 'running');
    await runner.stop();
    expect((await store.getJob('a'))?.status).toBe('interrupted');
    expect((await store.getJob('b'))?.status).toBe('queued');
    expect(gate.started).toEqual(['a']);

    await store.applyEvent('a', { type: 'resume', resume_from: 'auto' });
    const again = gatedExecutor();
    start(again.execute);
    await again.release('a');
    const resumed = await waitForStatus('a', 'done');
    expect(resumed.attempts).toBe(2);
    expect(resumed.resume_from).toBe('auto');
  });
});

describe('job updates from a running job', () => {
  it('keeps its log lines and typed updates in order, between its running and done status updates', async () => {
    start(async (_job, { log, update }) => {
      log(['loading']);
      update({ type: 'sample', step: 2, prompt: '江南水乡', path: 'out/sample-2.png' });
      log(['saved']);
      return ['out/style.safetensors'];
    });
    await queue('a');
    await waitForStatus('a', 'done');
    const updates = await store.readUpdates('a');
    expect(updates.map(({ seq, at, ...update }) => update)).toEqual([
      { type: 'status', status: 'queued', error: null, outputs: [] },
      { type: 'status', status: 'running', error: null, outputs: [] },
      { type: 'log', lines: ['loading'] },
      { type: 'sample', step: 2, prompt: '江南水乡', path: 'out/sample-2.png' },
      { type: 'log', lines: ['saved'] },
      { type: 'status', status: 'done', error: null, outputs: ['out/style.safetensors'] },
    ]);
  });

  it('ends a failed job with a failed status update that carries the error', async () => {
    start(async () => {
      throw new ConfigError('learning_rate must be positive', { code: 'invalid_config', hint: 'use 1e-4' });
    });
    await queue('b');
    await waitForStatus('b', 'failed');
    expect((await store.readUpdates('b')).at(-1)).toMatchObject({
      type: 'status',
      status: 'failed',
      error: { code: 'invalid_config', message: 'learning_rate must be positive', hint: 'use 1e-4' },
    });
  });
});

// Issue 18's done-when for the job queue, with real processes through the built CLI (`npm run build` first): a
// redis-server, `serve --queue`, three `lora-scripts worker` processes and a mixed batch (two prepare, one generate
// on the demo model, two trainings). The worker running one training is SIGKILLed after its first saved states;
// another worker takes the job over, the training goes on from its saved step, and every job ends done exactly once,
// the resumed LoRA equal, tensor by tensor, to the other training's (same config, never killed). Linux (/proc).
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { type Job, jobSchema } from '../store/index.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../testing/demo-workspace.js';
import { expectSameLora, loraTensors, savedSteps } from '../testing/training-output.js';
import { hasRedis, type RedisServer, startRedisServer } from '../testing/redis-server.js';
import { childPids, isRunning, type ServeProcess, startServeProcess, waitFor } from '../testing/serve-process.js';
import { JOB_QUEUE, QUEUE_PREFIX } from './connection.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
/** Short locks and checks, so a dead worker's job is taken over in seconds (docs/scale-out.md names them). */
const ENV: NodeJS.ProcessEnv = {
  ...ENGINE_TEST_ENV,
  CUDA_VISIBLE_DEVICES: '',
  LORA_SCRIPTS_QUEUE_LOCK_MS: '6000',
  LORA_SCRIPTS_QUEUE_STALLED_CHECK_MS: '1000',
  LORA_SCRIPTS_QUEUE_HEARTBEAT_MS: '500',
  LORA_SCRIPTS_QUEUE_POLL_MS: '200',
};
const TOTAL_STEPS = 24;
/** kill-resume.test.ts's run: fp32 files, a state at every step. */
const RUN = {
  train_data_dir: 'data/demo',
  base_model: 'models/demo-sd1.safetensors',
  resolution: 64,
  lora_rank: 4,
  batch_size: 2,
  learning_rate: 1e-3,
  max_train_steps: TOTAL_STEPS,
  seed: 7,
  save_precision: 'fp32',
  save_state_every_minutes: 0.0001,
};
const WAIT_MS = 240_000;
// engine/tests/test_resume_e2e.py's tolerance for "the same LoRA" (torch.allclose).
const RTOL = 1e-5;
const ATOL = 1e-7;

interface WorkerProcess {
  name: string;
  child: ChildProcess;
  output(): string;
}

let redis: RedisServer;
let workspace: string;
let server: ServeProcess;
const workers: WorkerProcess[] = [];

async function startWorker(name: string): Promise<WorkerProcess> {
  const args = [BIN, 'worker', '--queue', redis.url, '--workspace', workspace, '--name', name, '--device', 'cpu'];
  const child = spawn('node', args, { env: ENV });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const worker = { name, child, output: () => output };
  workers.push(worker);
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`worker ${name} exited early:\n${output}`);
      return output.includes('Ctrl-C stops the worker');
    },
    { what: `worker ${name} to start (${output})`, timeoutMs: 120_000 },
  );
  return worker;
}

async function api<T>(path: string, init: RequestInit = {}): Promise<T> {
  const response = await fetch(new URL(path, server.url), init);
  expect(response.status, path).toBeLessThan(300);
  return (await response.json()) as T;
}

async function submit(kind: Job['kind'], config: Record<string, unknown>): Promise<Job> {
  const body = JSON.stringify({ kind, config });
  return jobSchema.parse(
    await api('/api/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body }),
  );
}

async function getJob(id: string): Promise<Job> {
  return jobSchema.parse(await api(`/api/jobs/${id}`));
}

/** The statuses the store recorded for the job, in order, paged as a client pages the job's updates. */
async function statusHistory(id: string): Promise<string[]> {
  const statuses: string[] = [];
  for (let after = 0; ; ) {
    const page = await api<{ events: { type: string; status?: string }[]; next: number }>(
      `/api/jobs/${id}/events?after=${after}`,
    );
    if (page.events.length === 0) return statuses;
    for (const update of page.events) if (update.type === 'status') statuses.push(update.status as string);
    after = page.next;
  }
}

async function readLog(id: string): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const page = await api<{ lines: { text: string }[] }>(`/api/jobs/${id}/log?from=${lines.length}`);
    if (page.lines.length === 0) return lines;
    lines.push(...page.lines.map((line) => line.text));
  }
}

/** What a failed wait shows: each job's status and log tail, what each process printed. */
async function diagnosis(jobs: readonly Job[]): Promise<string> {
  const parts: string[] = [];
  for (const { id, kind } of jobs) {
    const job = await getJob(id);
    parts.push(`${kind} ${id} ${job.status} attempts ${job.attempts}: ${(await readLog(id)).slice(-8).join(' | ')}`);
  }
  for (const worker of workers) parts.push(`worker ${worker.name}: ${worker.output().slice(-2000)}`);
  parts.push(`server: ${server.stdout().slice(-2000)}`);
  return parts.join('\n');
}

describe.skipIf(process.platform !== 'linux' || !hasRedis())('jobs on a queue with three workers', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    workspace = await makeDemoWorkspace({ prefix: 'lora-scale-out-' });
    server = await startServeProcess(workspace, ['--queue', redis.url], ENV);
    await Promise.all(['w1', 'w2', 'w3'].map((name) => startWorker(name)));
  }, 180_000);

  afterAll(async () => {
    for (const { child } of workers) {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
      for (const engine of childPids(child.pid)) process.kill(engine, 'SIGKILL');
      child.kill('SIGKILL');
    }
    if (server && server.child.exitCode === null) server.child.kill('SIGINT');
    await server?.exited;
    await redis?.stop();
    if (workspace) rmSync(workspace, { recursive: true, force: true });
  });

  it('runs a mixed batch exactly once; a training whose worker is killed goes on elsewhere to the same LoRA', async () => {
    expect(server.stdout()).toContain(`jobs go to the workers on ${redis.url}`);
    const listed = await api<{ workers: { name: string }[] }>('/api/workers');
    expect(listed.workers.map((worker) => worker.name)).toEqual(['w1', 'w2', 'w3']);

    // The training to kill first: it is the oldest train job, so it starts before the reference.
    const victim = await submit('train', { ...RUN, output_dir: 'output/killed' });
    const reference = await submit('train', { ...RUN, output_dir: 'output/reference' });
    const others = [
      await submit('prepare', { dataset: 'data/demo', out: 'prepared/a', target: 64 }),
      await submit('prepare', { dataset: 'data/demo', out: 'prepared/b', target: 64 }),
      await submit('generate', {
        prompts: ['canal town'],
        base_model: 'models/demo-sd1.safetensors',
        seeds: [1],
        steps: 2,
        width: 64,
        height: 64,
        out_dir: 'pictures/batch',
      }),
    ];

    // Its first saved states, then the worker running it dies the way the OOM killer kills.
    await waitFor(() => Math.max(0, ...savedSteps(join(workspace, 'output/killed'))) >= 2, {
      what: 'a training state at step 2 or later',
      timeoutMs: WAIT_MS,
      pollMs: 20,
    });
    const runningIt = await api<{ workers: { name: string; jobs: string[] }[] }>('/api/workers');
    const holder = runningIt.workers.find((worker) => worker.jobs.includes(victim.id));
    expect(holder).toBeDefined();
    const doomed = workers.find((worker) => worker.name === holder?.name) as WorkerProcess;
    const engines = childPids(doomed.child.pid as number);
    doomed.child.kill('SIGKILL');
    await waitFor(() => engines.every((pid) => !isRunning(pid)), {
      what: 'the dead worker’s engine to exit by itself',
      timeoutMs: 60_000,
    });
    const savedStep = Math.max(...savedSteps(join(workspace, 'output/killed')));
    expect(savedStep).toBeGreaterThanOrEqual(2);
    expect(savedStep).toBeLessThan(TOTAL_STEPS);
    expect(existsSync(join(workspace, 'output/killed/killed.safetensors'))).toBe(false);

    // Every job ends done, and only once.
    const all = [victim, reference, ...others];
    const ended = await waitFor(
      async () => {
        const jobs = await Promise.all(all.map((job) => getJob(job.id)));
        const failed = jobs.find((job) => job.status === 'failed' || job.status === 'cancelled');
        if (failed) throw new Error(`job ${failed.id} ${failed.status}: ${JSON.stringify(failed.error)}`);
        return jobs.every((job) => job.status === 'done') ? jobs : null;
      },
      { what: 'every job to be done', timeoutMs: WAIT_MS, pollMs: 500 },
    ).catch(async (error: unknown) => {
      throw new Error(`${(error as Error).message}\n${await diagnosis(all)}`);
    });
    for (const job of ended) {
      const history = await statusHistory(job.id);
      expect(
        history.filter((status) => ['done', 'failed', 'cancelled'].includes(status)),
        job.id,
      ).toEqual(['done']);
      expect(history.at(-1)).toBe('done');
    }
    for (const job of [reference, ...others]) {
      expect(await statusHistory(job.id), job.kind).toEqual(['queued', 'running', 'done']);
    }
    expect(await statusHistory(victim.id)).toEqual(['queued', 'running', 'interrupted', 'queued', 'running', 'done']);
    const resumed = await getJob(victim.id);
    expect(resumed.attempts).toBe(2);
    expect(resumed.progress).toMatchObject({ step: TOTAL_STEPS, total: TOTAL_STEPS });

    // The second run was on another worker and went on from the saved step, not from step 0.
    const log = await readLog(victim.id);
    const secondRun = log.findIndex((line) =>
      /^run 2 on worker w\d, going on from where its last run ended$/.test(line),
    );
    expect(secondRun).toBeGreaterThan(0);
    expect(log[secondRun]).not.toContain(doomed.name);
    const after = log.slice(secondRun);
    expect(after.filter((line) => line.startsWith('resuming from the state at step '))).toEqual([
      expect.stringMatching(new RegExp(`^resuming from the state at step ${savedStep}: `)),
    ]);
    const steps = after.filter((line) => /^step \d+\//.test(line));
    expect(steps[0]).toMatch(new RegExp(`^step ${savedStep + 1}/${TOTAL_STEPS} `));
    expect(steps).toHaveLength(TOTAL_STEPS - savedStep);

    expectSameLora(
      await loraTensors(join(workspace, 'output/killed/killed.safetensors')),
      await loraTensors(join(workspace, 'output/reference/reference.safetensors')),
      { rtol: RTOL, atol: ATOL },
    );

    // One BullMQ job carried the killed training (delivered twice), none is on the dead-letter list, and the dead
    // worker drops out of the list once its heartbeat runs out.
    const queue = new Queue(JOB_QUEUE, { connection: { url: redis.url }, prefix: QUEUE_PREFIX });
    try {
      expect(await queue.getJobState(`${victim.id}.1`)).toBe('completed');
      expect(await queue.getJob(`${victim.id}.2`)).toBeUndefined();
    } finally {
      await queue.close();
    }
    expect((await api<{ jobs: unknown[] }>('/api/queue/dead-letter')).jobs).toEqual([]);
    await waitFor(
      async () => {
        const live = await api<{ workers: { name: string }[] }>('/api/workers');
        return live.workers.every((worker) => worker.name !== doomed.name);
      },
      { what: 'the dead worker to leave the list', timeoutMs: 30_000 },
    );
  }, 400_000);
});

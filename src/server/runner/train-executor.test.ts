// The real train executor behind the real runner: a tiny training on the shipped demo model, from queue to done.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Job, type JobStatus, type JobStore, openSqliteStore } from '../../store/index.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../../testing/demo-workspace.js';
import { type JobRunner, startJobRunner } from './job-runner.js';
import { trainExecutor } from './train-executor.js';

const ENV = ENGINE_TEST_ENV;
const WAIT_MS = 170_000;
const TINY_RUN = {
  train_data_dir: 'data/demo',
  base_model: 'models/demo-sd1.safetensors',
  output_dir: 'output/demo',
  resolution: 64,
  lora_rank: 4,
  batch_size: 2,
  max_train_steps: 2,
  seed: 1,
};

let workspace: string;
let store: JobStore;
let runner: JobRunner | undefined;

beforeEach(async () => {
  workspace = await makeDemoWorkspace({ prefix: 'lora-train-job-' });
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
});

afterEach(async () => {
  await runner?.stop();
  await store.close();
  rmSync(workspace, { recursive: true, force: true });
});

async function waitForEnd(id: string): Promise<Job> {
  const ends: JobStatus[] = ['done', 'failed', 'cancelled', 'interrupted'];
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const job = await store.getJob(id);
    if (job && ends.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job?.status} after ${WAIT_MS} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

describe('trainExecutor', () => {
  it('trains a queued job to done, with the LoRA among its outputs, its progress and its log', async () => {
    const queued = await store.createJob({ kind: 'train', device: 'default', config: TINY_RUN });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const job = await waitForEnd(queued.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('done');
    expect(job.outputs).toContain('output/demo/demo.safetensors');
    for (const output of job.outputs) expect(existsSync(join(workspace, output)), output).toBe(true);
    expect(job.progress).toMatchObject({ step: 2, total: 2 });
    expect(job.progress?.loss).toEqual(expect.any(Number));
    const log = (await store.readLog(job.id)).map((line) => line.text);
    expect(log[0]).toBe('training demo from data/demo');
    expect(log).toContain(`step 2/2  epoch 1  loss ${job.progress?.loss?.toFixed(4)}`);
    expect(log.at(-1)).toBe('LoRA for WebUI / ComfyUI: output/demo/demo.safetensors');
  }, 200_000);

  it('fills in `auto` values from the dataset and the device when the job starts, with the reasons in its log', async () => {
    const queued = await store.createJob({
      kind: 'train',
      device: 'default',
      config: { ...TINY_RUN, lora_rank: 'auto', learning_rate: 'auto' },
    });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const job = await waitForEnd(queued.id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('done');
    const log = (await store.readLog(job.id)).map((line) => line.text);
    expect(log.filter((line) => line.startsWith('auto ')).join('\n')).toMatch(
      /lora_rank[\s\S]*learning_rate|learning_rate[\s\S]*lora_rank/,
    );
  }, 300_000);

  it('gives watchers typed updates: progress with loss and learning rate, samples and checkpoints as paths in the workspace', async () => {
    const config = {
      ...TINY_RUN,
      max_train_steps: 4,
      save_steps: 2,
      sample_prompts: ['jiangnan water town'],
      sample_every_n_steps: 2,
      sample_inference_steps: 2,
    };
    const queued = await store.createJob({ kind: 'train', device: 'default', config });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const job = await waitForEnd(queued.id);
    expect(job.error).toBeNull();
    const updates = await store.readUpdates(job.id);
    const progress = updates.flatMap((update) => (update.type === 'progress' ? [update] : []));
    expect(progress.map((update) => update.step)).toEqual([1, 2, 3, 4]);
    for (const update of progress) {
      expect(update).toMatchObject({ total_steps: 4, loss: expect.any(Number), lr: expect.any(Number) });
    }
    // the warm-up step gives no estimate; a real one needs a few timed steps
    expect(progress[0]!.eta_s).toBeNull();
    const samples = updates.flatMap((update) => (update.type === 'sample' ? [update] : []));
    expect(samples.map((sample) => sample.prompt)).toContain('jiangnan water town');
    const checkpoints = updates.flatMap((update) => (update.type === 'checkpoint' ? [update] : []));
    // the WebUI/kohya file of the save, which is what a user keeps or downloads
    expect(checkpoints).toEqual([
      {
        type: 'checkpoint',
        step: 2,
        path: 'output/demo/demo-step00000002.safetensors',
        is_final: false,
        seq: expect.any(Number),
        at: expect.any(String),
      },
    ]);
    for (const { path } of [...samples, ...checkpoints]) {
      expect(path.startsWith('output/demo/'), path).toBe(true);
      expect(existsSync(join(workspace, path)), path).toBe(true);
    }
    expect(updates.at(-1)).toMatchObject({ type: 'status', status: 'done' });
  }, 300_000);

  it('resumes an interrupted job from the last state its output folder holds, as `--resume auto`', async () => {
    const first = await store.createJob({ kind: 'train', device: 'default', config: TINY_RUN });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    expect((await waitForEnd(first.id)).status).toBe('done');
    await runner.stop();

    // A longer run on the same output folder that the server lost while it ran (its states are those of `first`).
    const longer = await store.createJob({
      kind: 'train',
      device: 'default',
      config: { ...TINY_RUN, max_train_steps: 3 },
    });
    await store.claimNextQueued('default');
    await store.markRunningAsInterrupted();
    await store.applyEvent(longer.id, { type: 'resume', resume_from: 'auto' });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const resumed = await waitForEnd(longer.id);
    expect(resumed.error).toBeNull();
    expect(resumed.status).toBe('done');
    expect(resumed.attempts).toBe(2);
    expect(resumed.progress).toMatchObject({ step: 3, total: 3 });
    const log = (await store.readLog(longer.id)).map((line) => line.text);
    expect(log.some((line) => line.startsWith('resuming from the state at step 2'))).toBe(true);
    expect(log.filter((line) => line.startsWith('step 1/'))).toEqual([]);
  }, 200_000);

  it('stops a running training when its job is cancelled, keeps it cancelled and goes on with the next job', async () => {
    const long = await store.createJob({
      kind: 'train',
      device: 'default',
      config: { ...TINY_RUN, output_dir: 'output/long', max_train_steps: 5000 },
    });
    const next = await store.createJob({ kind: 'train', device: 'default', config: TINY_RUN });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const deadline = Date.now() + WAIT_MS;
    while (((await store.getJob(long.id))?.progress?.step ?? 0) < 1) {
      if (Date.now() > deadline) throw new Error('the long job never reported a step');
      await new Promise((done) => setTimeout(done, 100));
    }
    await store.applyEvent(long.id, { type: 'cancel' });

    // One job at a time: the next one can only finish after the cancelled training has stopped.
    expect((await waitForEnd(next.id)).status).toBe('done');
    const cancelled = await store.getJob(long.id);
    expect(cancelled?.status).toBe('cancelled');
    expect(cancelled?.progress?.step).toBeLessThan(5000);
  }, 200_000);

  it('fails a job whose data folder is missing with the error of `train`, not done', async () => {
    const config = { ...TINY_RUN, train_data_dir: 'data/none' };
    const queued = await store.createJob({ kind: 'train', device: 'default', config });
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const job = await waitForEnd(queued.id);
    expect(job.status).toBe('failed');
    expect(job.error).toMatchObject({ code: 'path_missing', message: 'data/none: not found in the workspace' });
    expect(job.outputs).toEqual([]);
  }, 200_000);
});

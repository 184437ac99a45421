// The executors of prepare, auto-label, generate and merge behind the real runner, on real files: a sample dataset,
// the shipped demo base model and a fixture LoRA. Small sizes and few steps: the test machine is shared.
import { existsSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeIntoBaseModel } from '../../checkpoint/index.js';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { InterruptedError } from '../../errors.js';
import { type Job, type JobKind, type JobStatus, type JobStore, openSqliteStore } from '../../store/index.js';
import { executorForKind } from './job-kinds.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../../testing/demo-workspace.js';
import { type JobRunner, startJobRunner } from './job-runner.js';

const FIXTURE_LORA = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');
const ENV = ENGINE_TEST_ENV;
const WAIT_MS = 170_000;
const ENDS: JobStatus[] = ['done', 'failed', 'cancelled', 'interrupted'];

let workspace: string;
let store: JobStore;
let runner: JobRunner | undefined;

beforeEach(async () => {
  workspace = await makeDemoWorkspace({
    prefix: 'lora-job-kinds-',
    dataset: 'datasets/demo',
    extraFiles: { 'models/jiangnan_style.safetensors': FIXTURE_LORA },
  });
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await store.close();
  rmSync(workspace, { recursive: true, force: true });
});

async function waitForEnd(id: string): Promise<Job> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const job = await store.getJob(id);
    if (job && ENDS.includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job?.status} after ${WAIT_MS} ms`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

async function runJob(kind: JobKind, config: Record<string, unknown>): Promise<{ job: Job; log: string[] }> {
  const queued = await store.createJob({ kind, device: 'default', config });
  runner ??= startJobRunner({ store, device: 'default', execute: executorForKind({ workspace, env: ENV }) });
  const job = await waitForEnd(queued.id);
  const log = (await store.readLog(job.id)).map((line) => line.text);
  return { job, log };
}

function expectDone(job: Job): void {
  expect(job.error).toBeNull();
  expect(job.status).toBe('done');
  for (const output of job.outputs) expect(existsSync(join(workspace, output)), output).toBe(true);
}

describe('prepare jobs', () => {
  it('prepares a dataset into prepared/<name>, with the reports among the outputs', async () => {
    const { job, log } = await runJob('prepare', { dataset: 'datasets/demo', target: 64 });
    expectDone(job);
    expect(job.outputs).toEqual([
      'prepared/demo/prepare-report.json',
      'prepared/demo/prepare-report.html',
      'prepared/demo',
    ]);
    const report = JSON.parse(readFileSync(join(workspace, job.outputs[0]!), 'utf8')) as { summary: { kept: number } };
    expect(report.summary.kept).toBe(4);
    expect(job.progress).toMatchObject({ step: 4, total: 4 });
    expect(log[0]).toBe('preparing datasets/demo into prepared/demo');
    expect(log.at(-1)).toBe('4 pictures: 4 kept, 0 excluded; captions from datasets/demo/metadata.csv');
  }, 60_000);

  it('fails a strict run that flags pictures with prepare_strict, naming the picture', async () => {
    // 64 px pictures for a 512 px target need 8× upscaling: every one is excluded.
    const { job } = await runJob('prepare', { dataset: 'datasets/demo', target: 512, strict: true });
    expect(job.status).toBe('failed');
    expect(job.error?.code).toBe('prepare_strict');
    expect(job.error?.message).toMatch(/^datasets\/demo\/jiangnan_/);
  }, 60_000);
});

describe('auto-label jobs', () => {
  it('writes <stem>.txt captions beside the pictures, keeping the one a person wrote', async () => {
    const dataset = join(workspace, 'datasets', 'demo');
    unlinkSync(join(dataset, 'metadata.csv'));
    const pictures = ['jiangnan_000.png', 'jiangnan_001.png', 'jiangnan_002.png', 'jiangnan_003.png'];
    for (const picture of pictures) expect(existsSync(join(dataset, picture)), picture).toBe(true);
    writeFileSync(join(dataset, 'jiangnan_000.txt'), 'written by hand\n');

    const { job, log } = await runJob('auto-label', { dataset: 'datasets/demo', trigger_word: 'jn_style' });
    expectDone(job);
    expect(job.outputs).toEqual(pictures.slice(1).map((p) => `datasets/demo/${p.replace('.png', '.txt')}`));
    expect(readFileSync(join(dataset, 'jiangnan_000.txt'), 'utf8')).toBe('written by hand\n');
    expect(readFileSync(join(dataset, 'jiangnan_001.txt'), 'utf8')).toMatch(/^jn_style, \S/);
    expect(job.progress).toMatchObject({ step: 3, total: 3 });
    expect(log.at(-1)).toBe('wrote 3 captions, kept 1 existing ones');
  }, 60_000);
});

describe('merge jobs', () => {
  it('merges a LoRA into the base model as a new checkpoint; the base is not changed', async () => {
    const before = readFileSync(join(workspace, 'models', 'demo-sd1.safetensors'));
    const { job, log } = await runJob('merge', {
      base_model: 'models/demo-sd1.safetensors',
      loras: [{ path: 'models/jiangnan_style.safetensors', strength: 0.8 }],
      output: 'models/merged.safetensors',
    });
    expectDone(job);
    expect(job.outputs).toEqual(['models/merged.safetensors']);
    expect(readFileSync(join(workspace, 'models', 'demo-sd1.safetensors')).equals(before)).toBe(true);
    expect(log.at(-1)).toBe('merged checkpoint: models/merged.safetensors');
    // Progress in tensors written, up to all of them.
    expect(job.progress?.total).toBeGreaterThan(100);
    expect(job.progress?.step).toBe(job.progress?.total);
  }, 60_000);

  it('stops between two tensors when stopped, leaving no output and no temp file', async () => {
    const controller = new AbortController();
    const merge = mergeIntoBaseModel({
      base: 'models/demo-sd1.safetensors',
      cwd: workspace,
      loras: [{ path: join(workspace, 'models', 'jiangnan_style.safetensors'), weight: 1 }],
      output: join(workspace, 'out', 'merged.safetensors'),
      loraHint: '',
      onTensor: (done) => {
        if (done === 10) controller.abort();
      },
      stopSignal: controller.signal,
    });
    await expect(merge).rejects.toBeInstanceOf(InterruptedError);
    expect(readdirSync(join(workspace, 'out'))).toEqual([]);
  }, 60_000);

  it('fails with the error of `merge` when the base model is a LoRA', async () => {
    const { job } = await runJob('merge', {
      base_model: 'models/jiangnan_style.safetensors',
      loras: [{ path: 'models/jiangnan_style.safetensors', strength: 1 }],
      output: 'models/merged.safetensors',
    });
    expect(job.status).toBe('failed');
    expect(job.error?.message).toMatch(/^models\/jiangnan_style\.safetensors: .*LoRA/);
    expect(existsSync(join(workspace, 'models', 'merged.safetensors'))).toBe(false);
  }, 60_000);
});

describe('generate jobs', () => {
  const GRID = {
    prompts: ['three houses and a stone bridge, canal town scene'],
    lora: 'models/jiangnan_style.safetensors',
    base_model: 'models/demo-sd1.safetensors',
    strengths: [0, 1],
    seeds: [1],
    steps: 2,
    width: 64,
  };

  it('renders a strength grid into outputs/generate/<job id>/: a cell per strength, then the grid', async () => {
    const { job, log } = await runJob('generate', GRID);
    expectDone(job);
    const folder = `outputs/generate/${job.id}`;
    expect(job.outputs).toHaveLength(3);
    expect(job.outputs.every((output) => output.startsWith(`${folder}/`))).toBe(true);
    expect(job.outputs.at(-1)).toBe(`${folder}/grid.png`);
    // Two columns of 64 px with 4 px gaps, one row.
    const grid = await sharp(join(workspace, `${folder}/grid.png`)).metadata();
    expect([grid.width, grid.height]).toEqual([2 * 68 + 4, 68 + 4]);
    expect(job.progress).toMatchObject({ step: 2, total: 2 });
    expect(log).toContain(`grid: ${folder}/grid.png (columns: strength 0, 1)`);
  }, 200_000);

  it('renders a prompt per seed into the folder the config names, then stops a cancelled one and runs the next', async () => {
    const { job } = await runJob('generate', {
      prompts: ['canal town'],
      base_model: 'models/demo-sd1.safetensors',
      seeds: [1, 2],
      steps: 2,
      width: 64,
      height: 64,
      out_dir: 'pictures/run',
    });
    expectDone(job);
    expect(job.outputs).toHaveLength(2);
    expect(job.outputs.every((output) => /^pictures\/run\/.+\.png$/.test(output))).toBe(true);

    const long = await store.createJob({
      kind: 'generate',
      device: 'default',
      config: { ...GRID, strengths: [0, 0.25, 0.5, 0.75, 1], seeds: [1, 2, 3], steps: 150 },
    });
    const deadline = Date.now() + WAIT_MS;
    while ((await store.getJob(long.id))?.status !== 'running') {
      if (Date.now() > deadline) throw new Error('the long job never started');
      await new Promise((done) => setTimeout(done, 50));
    }
    await store.applyEvent(long.id, { type: 'cancel' });
    const next = await runJob('merge', {
      base_model: 'models/demo-sd1.safetensors',
      loras: [{ path: 'models/jiangnan_style.safetensors', strength: 1 }],
      output: 'models/after-cancel.safetensors',
    });
    expectDone(next.job);
    expect((await store.getJob(long.id))?.status).toBe('cancelled');
  }, 200_000);
});

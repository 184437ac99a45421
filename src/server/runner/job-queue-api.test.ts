// POST /api/jobs and /api/jobs/{id}/resume through app.request() on a real SQLite store and a real workspace.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, type StudioApp } from '../app.js';
import { errorBodySchema, jobResponseSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';

const PORT = 6008;
const HOST = `127.0.0.1:${PORT}`;
const GOOD_CONFIG = { train_data_dir: 'data/cats', base_model: 'models/base.safetensors', lora_rank: 8 };

let dir: string;
let workspace: string;
let store: JobStore;
let app: StudioApp;
let wakeUps: number;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-job-queue-'));
  workspace = join(dir, 'workspace');
  mkdirSync(join(workspace, 'data', 'cats'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
  wakeUps = 0;
  app = createApp({
    store,
    workspace,
    policy: accessPolicy({ host: '127.0.0.1', port: PORT }),
    version: '9.9.9',
    onJobQueued: () => {
      wakeUps += 1;
    },
  });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(path: string, body: unknown) {
  const response = await app.request(`http://${HOST}${path}`, {
    method: 'POST',
    headers: { host: HOST, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

const errorOf = (body: unknown) => errorBodySchema.parse(body).error;

describe('POST /api/jobs', () => {
  it('queues a train job with the config as sent, and wakes the runner', async () => {
    const { status, body } = await post('/api/jobs', { kind: 'train', config: GOOD_CONFIG });
    expect(status).toBe(201);
    const job = jobResponseSchema.parse(body);
    expect(job).toMatchObject({ kind: 'train', status: 'queued', device: 'default', config: GOOD_CONFIG });
    expect(await store.getJob(job.id)).toEqual(job);
    expect(wakeUps).toBe(1);
  });

  it('refuses an unknown config key with 400 naming it, as `train --config` does', async () => {
    const { status, body } = await post('/api/jobs', { kind: 'train', config: { ...GOOD_CONFIG, lora_rnak: 8 } });
    expect(status).toBe(400);
    expect(errorOf(body).message).toContain('lora_rnak');
    expect(errorOf(body).hint).toContain('lora_rank');
    expect(await store.listJobs()).toEqual([]);
  });

  it('refuses a value of the wrong type with 400 naming the key', async () => {
    const { status, body } = await post('/api/jobs', { kind: 'train', config: { ...GOOD_CONFIG, lora_rank: 'big' } });
    expect(status).toBe(400);
    expect(errorOf(body).message).toContain('lora_rank');
  });

  it('refuses a path that leads outside the workspace with 403 naming it', async () => {
    symlinkSync(join(dir, 'outside'), join(workspace, 'data', 'elsewhere'));
    const config = { ...GOOD_CONFIG, output_dir: 'data/elsewhere/run' };
    const { status, body } = await post('/api/jobs', { kind: 'train', config });
    expect(status).toBe(403);
    expect(errorOf(body)).toMatchObject({ code: 'path_outside_workspace' });
    expect(errorOf(body).message).toContain('data/elsewhere/run');
    expect(await store.listJobs()).toEqual([]);
  });

  it('refuses an absolute or climbing path before touching the disk', async () => {
    for (const train_data_dir of ['/etc', '../outside']) {
      const { status, body } = await post('/api/jobs', { kind: 'train', config: { ...GOOD_CONFIG, train_data_dir } });
      expect(status).toBe(400);
      expect(errorOf(body)).toMatchObject({ code: 'path_unsafe' });
      expect(errorOf(body).message).toContain(train_data_dir);
    }
  });

  it('refuses an unknown kind, saying which kinds run', async () => {
    const { status, body } = await post('/api/jobs', { kind: 'upscale', config: {} });
    expect(status).toBe(400);
    expect(errorOf(body)).toMatchObject({ field: 'kind' });
    expect(errorOf(body).message).toContain('`train`');
    expect(errorOf(body).message).toContain('`auto-label`');
  });
});

describe('POST /api/jobs: the other kinds', () => {
  beforeEach(() => {
    mkdirSync(join(workspace, 'models'));
    writeFileSync(join(workspace, 'models', 'base.safetensors'), 'not read before the job runs');
    writeFileSync(join(workspace, 'models', 'style.safetensors'), 'not read before the job runs');
  });

  const GOOD: Record<string, Record<string, unknown>> = {
    prepare: { dataset: 'data/cats', target: 512, buckets: true, max_upscale: 2 },
    'auto-label': { dataset: 'data/cats', trigger_word: 'cat_style', overwrite: false },
    generate: {
      prompts: ['a cat'],
      lora: 'models/style.safetensors',
      strengths: [0, 0.5, 1],
      seeds: [1],
      base_model: 'models/base.safetensors',
      steps: 4,
      width: 64,
      height: 64,
    },
    merge: {
      base_model: 'models/base.safetensors',
      loras: [{ path: 'models/style.safetensors', strength: 0.8 }],
      output: 'models/merged.safetensors',
    },
  };

  it('queues each kind with its config as sent', async () => {
    for (const [kind, config] of Object.entries(GOOD)) {
      const { status, body } = await post('/api/jobs', { kind, config });
      expect(status, kind).toBe(201);
      expect(jobResponseSchema.parse(body)).toMatchObject({ kind, status: 'queued', config });
    }
    expect(await store.listJobs()).toHaveLength(4);
    expect(wakeUps).toBe(4);
  });

  it('refuses a bad field of each kind with 400 naming it, and queues nothing', async () => {
    const bad: [string, Record<string, unknown>, string][] = [
      ['prepare', { ...GOOD.prepare, target: 500 }, 'config.target'],
      ['prepare', { ...GOOD.prepare, crop: 'middle' }, 'config.crop'],
      ['auto-label', { ...GOOD['auto-label'], batch_size: 0 }, 'config.batch_size'],
      ['generate', { ...GOOD.generate, prompts: [] }, 'config.prompts'],
      ['generate', { ...GOOD.generate, steps: 'many' }, 'config.steps'],
      ['merge', { ...GOOD.merge, loras: [{ path: 'models/style.safetensors' }] }, 'config.loras.0.strength'],
      ['merge', { ...GOOD.merge, output: 'models/merged.ckpt' }, 'config.output'],
    ];
    for (const [kind, config, field] of bad) {
      const { status, body } = await post('/api/jobs', { kind, config });
      expect(status, field).toBe(400);
      expect(errorOf(body), field).toMatchObject({ field });
    }
    const { status, body } = await post('/api/jobs', { kind: 'generate', config: { ...GOOD.generate, lora_dir: 'x' } });
    expect(status).toBe(400);
    expect(errorOf(body).message).toContain('lora_dir');
    expect(await store.listJobs()).toEqual([]);
  });

  it('refuses a missing input with 400 naming the field', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['prepare', { dataset: 'data/dogs' }, 'config.dataset'],
      ['auto-label', { dataset: 'data/dogs' }, 'config.dataset'],
      ['generate', { ...GOOD.generate, lora: 'models/none.safetensors' }, 'config.lora'],
      ['merge', { ...GOOD.merge, loras: [{ path: 'models/none.safetensors', strength: 1 }] }, 'config.loras.0.path'],
    ];
    for (const [kind, config, field] of cases) {
      const { status, body } = await post('/api/jobs', { kind, config });
      expect(status, field).toBe(400);
      expect(errorOf(body), field).toMatchObject({ code: 'path_missing' });
      expect(errorOf(body).message, field).toContain(field);
    }
    expect(await store.listJobs()).toEqual([]);
  });

  it('refuses paths outside the workspace, naming the field', async () => {
    symlinkSync(join(dir, 'outside'), join(workspace, 'data', 'elsewhere'));
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['prepare', { dataset: '../outside' }, 400, 'config.dataset'],
      ['prepare', { dataset: 'data/cats', out: 'data/elsewhere/prepared' }, 403, 'config.out'],
      ['auto-label', { dataset: '/etc' }, 400, 'config.dataset'],
      ['generate', { ...GOOD.generate, out_dir: 'data/elsewhere' }, 403, 'config.out_dir'],
      ['merge', { ...GOOD.merge, output: '../merged.safetensors' }, 400, 'config.output'],
    ];
    for (const [kind, config, expected, field] of cases) {
      const { status, body } = await post('/api/jobs', { kind, config });
      expect(status, field).toBe(expected);
      expect(errorOf(body).message, field).toContain(field);
    }
    expect(await store.listJobs()).toEqual([]);
  });

  it('refuses a strength grid without its LoRA, and a merge that would overwrite its base', async () => {
    const { lora: _lora, ...noLora } = GOOD.generate!;
    const grid = await post('/api/jobs', { kind: 'generate', config: noLora });
    expect(grid.status).toBe(400);
    expect(errorOf(grid.body).message).toContain('config.lora');
    const merge = await post('/api/jobs', {
      kind: 'merge',
      config: { ...GOOD.merge, output: 'models/base.safetensors' },
    });
    expect(merge.status).toBe(400);
    expect(errorOf(merge.body)).toMatchObject({ code: 'output_is_input' });
  });

  it('describes every kind in the OpenAPI document', async () => {
    const response = await app.request(`http://${HOST}/api/openapi.json`, { headers: { host: HOST } });
    const document = JSON.stringify(await response.json());
    for (const id of ['NewJob', 'PrepareJobConfig', 'AutoLabelJobConfig', 'GenerateJobConfig', 'MergeJobConfig']) {
      expect(document).toContain(`"#/components/schemas/${id}"`);
    }
  });
});

describe('POST /api/jobs/{id}/resume', () => {
  it('queues an interrupted job again, to go on from its last saved state', async () => {
    const job = await store.createJob({ kind: 'train', device: 'default', config: GOOD_CONFIG });
    await store.claimNextQueued('default');
    await store.markRunningAsInterrupted();
    const { status, body } = await post(`/api/jobs/${job.id}/resume`, {});
    expect(status).toBe(200);
    expect(jobResponseSchema.parse(body)).toMatchObject({ id: job.id, status: 'queued', resume_from: 'auto' });
    expect(wakeUps).toBe(1);
  });

  it('refuses a job that was not interrupted with 409', async () => {
    const job = await store.createJob({ kind: 'train', device: 'default', config: GOOD_CONFIG });
    const { status, body } = await post(`/api/jobs/${job.id}/resume`, {});
    expect(status).toBe(409);
    expect(errorOf(body)).toMatchObject({ code: 'illegal_job_transition' });
    expect(wakeUps).toBe(0);
  });
});

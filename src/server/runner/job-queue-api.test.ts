// POST /api/jobs and /api/jobs/{id}/resume through app.request() on a real SQLite store and a real workspace.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
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

  it('refuses the kinds that do not run yet, saying which do', async () => {
    const { status, body } = await post('/api/jobs', { kind: 'generate', config: {} });
    expect(status).toBe(400);
    expect(errorOf(body)).toMatchObject({ field: 'kind' });
    expect(errorOf(body).message).toContain('`train`');
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

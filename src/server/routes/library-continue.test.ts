// "Continue this style on new pictures" end to end: the route queues a real short training on the shipped demo model
// from the promoted version, the real runner trains it, and the library then shows the next version with its lineage.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeSampleDataset } from '../../demo/index.js';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { openSqliteLibrary } from '../../library/index.js';
import { type Job, type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, type StudioApp } from '../app.js';
import { type JobRunner, startJobRunner, trainExecutor } from '../runner/index.js';
import { accessPolicy } from '../security/index.js';
import { continuedSchema, styleDetailSchema, styleListSchema } from './library-schemas.js';

const HOST = '127.0.0.1:6008';
const PARENT = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles', 'jiangnan_style.safetensors');
// One torch thread: faster on the busy test machine (src/server/runner/train-executor.test.ts).
const ENV = { ...process.env, CI: '1', OMP_NUM_THREADS: '1' };
const WAIT_MS = 240_000;

let workspace: string;
let store: JobStore;
let app: StudioApp;
let runner: JobRunner | undefined;

beforeEach(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'lora-library-continue-'));
  mkdirSync(join(workspace, 'models'));
  copyFileSync(join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors'), join(workspace, 'models', 'demo-sd1.safetensors'));
  await writeSampleDataset({
    dir: join(workspace, 'data', 'rain'),
    styles: ['jiangnan'],
    count: 4,
    seed: 5,
    sizePx: 64,
  });
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
  app = createApp({ store, workspace, policy: accessPolicy({ host: '127.0.0.1', port: 6008 }), version: '0' });
});

afterEach(async () => {
  await runner?.stop();
  await store.close();
  rmSync(workspace, { recursive: true, force: true });
});

async function call(path: string, method = 'GET', body?: unknown) {
  const headers: Record<string, string> = { host: HOST };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await app.request(`http://${HOST}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

async function waitForEnd(id: string): Promise<Job> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const job = await store.getJob(id);
    if (job && ['done', 'failed', 'cancelled', 'interrupted'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job?.status} after ${WAIT_MS} ms`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

describe('POST /api/library/styles/{name}/continue', () => {
  it('trains from the promoted version; the done job becomes version 2, parent 1, lineage naming its file', async () => {
    const library = openSqliteLibrary(join(workspace, '.lora-scripts', 'studio.db'));
    const { version: parent } = await library.addVersion({
      style: 'jiangnan_style',
      file: PARENT,
      base_model: 'models/demo-sd1.safetensors',
      strength: 0.7,
      trigger_words: ['jiangnan style'],
    });
    await library.changeStatus('jiangnan_style', 1, 'promote');
    await library.close();

    const response = await call('/api/library/styles/jiangnan_style/continue', 'POST', {
      train_data_dir: 'data/rain',
      resolution: 64,
      batch_size: 2,
      max_train_steps: 2,
      seed: 1,
    });
    expect(response.status).toBe(201);
    const { job } = continuedSchema.parse(response.body);
    runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
    const done = await waitForEnd(job.id);
    expect(done.error).toBeNull();
    expect(done.status).toBe('done');

    const list = styleListSchema.parse((await call('/api/library/styles')).body);
    expect(list.styles).toEqual([expect.objectContaining({ name: 'jiangnan_style', versions: 2, promoted: 1 })]);
    const detail = styleDetailSchema.parse((await call('/api/library/styles/jiangnan_style')).body);
    const next = detail.versions[1]!;
    expect(next).toMatchObject({
      version: 2,
      status: 'draft',
      parent_version: 1,
      steps: 2,
      strength: 0.7,
      trigger_words: ['jiangnan style'],
      base_model: 'models/demo-sd1.safetensors',
    });
    // what train wrote into the new file: the parent by the library copy's name and hash, and this run's data
    expect(next.lineage).toMatchObject({
      parent_lora: { file: `${parent.sha256}.safetensors`, sha256: parent.sha256 },
      datasets: [{ name: 'rain', images: 4 }],
      steps: 2,
    });
    expect(next.sha256).not.toBe(parent.sha256);
    expect(existsSync(join(workspace, next.lora_path))).toBe(true);
    expect(detail.continuations).toEqual([expect.objectContaining({ job_id: job.id, state: 'added', version: 2 })]);
  }, 300_000);
});

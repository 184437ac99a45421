// The runner as the real server starts it: a job posted over HTTP is run to its end, and close() stops the runner.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Job, jobSchema } from '../../store/index.js';
import { type RunningServer, startServer } from '../serve.js';

const WAIT_MS = 20_000;

let dir: string;
let server: RunningServer;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-serve-runner-'));
  server = await startServer({ host: '127.0.0.1', port: 0, workspace: join(dir, 'workspace'), log: () => {} });
});

afterEach(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: unknown }> {
  const response = await fetch(new URL(path, server.url), init);
  return { status: response.status, body: (await response.json()) as unknown };
}

async function waitForEnd(id: string): Promise<Job> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const job = jobSchema.parse((await api(`/api/jobs/${id}`)).body);
    if (job.status !== 'queued' && job.status !== 'running') return job;
    if (Date.now() > deadline) throw new Error(`job ${id} is still ${job.status} after ${WAIT_MS} ms`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

describe('startServer with its runner', () => {
  it('runs a posted train job; one whose base model is missing ends failed, naming it as the client did', async () => {
    const config = { train_data_dir: 'data/none', base_model: 'models/base.safetensors' };
    const posted = await api('/api/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'train', config }),
    });
    expect(posted.status).toBe(201);
    const job = await waitForEnd(jobSchema.parse(posted.body).id);
    expect(job.status).toBe('failed');
    expect(job.attempts).toBe(1);
    expect(job.error?.message).toBe('models/base.safetensors: does not exist');
  });
});

// `startServer({ queue })`, in process: it refuses a Redis that does not answer, and on a real one serves the
// worker list and the dead-letter list, runs a submitted job on a worker, and closes without a connection left open.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../server/index.js';
import { hasRedis, type RedisServer, startRedisServer } from '../testing/redis-server.js';
import { waitFor } from '../testing/serve-process.js';
import { queueLocation } from './connection.js';
import { startQueueWorker } from './worker.js';
import { DEFAULT_QUEUE_TIMING } from './timing.js';

const QUIET = () => {};
let redis: RedisServer;
let workspace: string;

beforeAll(async () => {
  redis = await startRedisServer();
  workspace = mkdtempSync(join(tmpdir(), 'lora-serve-queue-'));
  mkdirSync(join(workspace, 'data', 'cats'), { recursive: true });
});
afterAll(async () => {
  await redis?.stop();
  rmSync(workspace, { recursive: true, force: true });
});

describe.skipIf(!hasRedis())('serve --queue', () => {
  it('refuses to start on a Redis that does not answer, naming --queue', async () => {
    const start = startServer({ host: '127.0.0.1', port: 0, workspace, queue: 'redis://127.0.0.1:1', log: QUIET });
    await expect(start).rejects.toMatchObject({
      code: 'queue_unreachable',
      line: '--queue: no Redis answers at redis://127.0.0.1:1 (connect ECONNREFUSED 127.0.0.1:1)',
    });
  });

  it('lists workers and dead letters, and a job submitted over HTTP runs on a worker', async () => {
    const lines: string[] = [];
    const env = { ...process.env, LORA_SCRIPTS_QUEUE_POLL_MS: '50' };
    const server = await startServer({
      host: '127.0.0.1',
      port: 0,
      workspace,
      queue: redis.url,
      env,
      log: (line) => lines.push(line),
    });
    const timing = { ...DEFAULT_QUEUE_TIMING, pollMs: 50, heartbeatMs: 100, flushMs: 10 };
    const worker = startQueueWorker({
      location: queueLocation(redis.url),
      name: 'in-test',
      device: 'cuda:1',
      timing,
      execute: async (job, { log }) => {
        log([`preparing for ${job.id}`]);
        return ['prepared/cats/manifest.jsonl'];
      },
    });
    try {
      expect(lines).toContain(`jobs go to the workers on ${redis.url} (\`lora-scripts worker --queue …\`)`);
      const get = async (path: string) => {
        const response = await fetch(new URL(path, server.url));
        return { status: response.status, body: (await response.json()) as Record<string, unknown> };
      };
      const workers = await waitFor(
        async () => {
          const { body } = await get('/api/workers');
          return (body.workers as unknown[]).length === 1 ? body : null;
        },
        { what: 'the worker in the list', timeoutMs: 20_000 },
      );
      expect(workers).toMatchObject({ queue: redis.url, workers: [{ name: 'in-test', device: 'cuda:1', jobs: [] }] });
      expect(await get('/api/queue/dead-letter?limit=5')).toEqual({ status: 200, body: { jobs: [] } });
      expect((await get('/api/queue/dead-letter?limit=0')).status).toBe(400);

      // The worker's executor here only logs: the job's folder need only exist to be accepted.
      const submitted = await fetch(new URL('/api/jobs', server.url), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'prepare', config: { dataset: 'data/cats' } }),
      });
      const body = (await submitted.json()) as { id: string; device: string };
      expect(submitted.status, JSON.stringify(body)).toBe(201);
      expect(body.device).toBe(`queue:${body.id}`);
      const done = await waitFor(
        async () => {
          const job = (await get(`/api/jobs/${body.id}`)).body;
          return job.status === 'done' ? job : null;
        },
        { what: 'the job to be done', timeoutMs: 20_000 },
      );
      expect(done.outputs).toEqual(['prepared/cats/manifest.jsonl']);
      const log = (await get(`/api/jobs/${body.id}/log`)).body as { lines: { text: string }[] };
      expect(log.lines.map((line) => line.text)).toEqual(['run 1 on worker in-test', `preparing for ${body.id}`]);
    } finally {
      await worker.stop();
      await server.close();
    }
  });
});

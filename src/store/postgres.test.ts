// What only the PostgreSQL job store promises: several servers (each with its own pool) on one database never claim
// one job twice nor run two jobs on one device, number a job's lines and updates without gaps when they write at
// once, and keep JSON fields as JSONB (job behaviour itself: job-store.test.ts runs over both backends).
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgresServer } from '../testing/postgres-server.js';
import { tickingClock } from '../testing/store-backends.js';
import { closeDatabases, openJobStore } from './database.js';
import { postgresJobStore } from './postgres.js';
import { connectPostgres } from './postgres-pool.js';
import type { StoreError } from './store-error.js';
import type { JobStore } from './types.js';

let server: PostgresServer;
let url: string;
let pools: pg.Pool[];

beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

beforeEach(async () => {
  url = await server.createDatabase();
  pools = [];
});

afterEach(async () => {
  await Promise.all(pools.map((pool) => pool.end()));
  await closeDatabases();
});

/** `count` servers on the database: each store has a pool (connections) of its own; one clock for all. */
async function servers(count: number): Promise<JobStore[]> {
  const now = tickingClock();
  const opened = await Promise.all(Array.from({ length: count }, () => connectPostgres(url)));
  pools.push(...opened);
  return opened.map((pool) => postgresJobStore(pool, { now }));
}

describe('several servers on one database', () => {
  it('claim every job exactly once, in order, never two at a time on one device', async () => {
    const [a, b, c] = await servers(3);
    if (!a || !b || !c) throw new Error('three servers');
    const devices = ['cuda:0', 'cuda:1'];
    const queued = new Map(devices.map((device) => [device, [] as string[]]));
    for (let index = 0; index < 6; index++) {
      for (const device of devices) {
        const job = await a.createJob({ id: `${device}-${index}`, kind: 'train', device, config: {} });
        queued.get(device)?.push(job.id);
      }
    }
    const claimed = new Map(devices.map((device) => [device, [] as string[]]));
    for (let round = 0; round < 6; round++) {
      // every server asks for work on every device at once, twice over
      const claims = await Promise.all(
        [a, b, c, a, b, c].flatMap((store) => devices.map((device) => store.claimNextQueued(device))),
      );
      const running = await b.listJobs({ status: 'running' });
      expect(running.map((job) => job.device).sort()).toEqual(devices);
      for (const job of claims) if (job) claimed.get(job.device)?.push(job.id);
      expect(claims.filter((job) => job !== null)).toHaveLength(devices.length);
      for (const job of running) await c.applyEvent(job.id, { type: 'finish', outputs: [] });
    }
    expect(claimed).toEqual(queued);
    expect(await a.listJobs({ status: 'queued' })).toEqual([]);
  });

  it('let a direct start and a claim race for one device: exactly one job runs', async () => {
    const [a, b] = await servers(2);
    if (!a || !b) throw new Error('two servers');
    for (let round = 0; round < 5; round++) {
      await a.createJob({ id: `direct-${round}`, kind: 'generate', device: 'cpu', config: {} });
      await a.createJob({ id: `claimed-${round}`, kind: 'generate', device: 'cpu', config: {} });
      const [started, claim] = await Promise.allSettled([
        a.applyEvent(`direct-${round}`, { type: 'start' }),
        b.claimNextQueued('cpu'),
      ]);
      const running = await a.listJobs({ status: 'running' });
      expect(running).toHaveLength(1);
      if (started.status === 'rejected') {
        // The claim won: it started the other job (the direct start then finds the device busy), or, taking the
        // queue in order, this very job (the direct start then finds it running already).
        const code = (started.reason as StoreError).code;
        expect(code).toBe(running[0]?.id === `direct-${round}` ? 'illegal_job_transition' : 'device_busy');
        expect(claim).toMatchObject({ status: 'fulfilled', value: { id: running[0]?.id } });
      } else {
        expect(running[0]?.id).toBe(`direct-${round}`);
        expect(claim).toEqual({ status: 'fulfilled', value: null });
      }
      for (const job of running) await b.applyEvent(job.id, { type: 'cancel' });
      for (const job of await a.listJobs({ status: 'queued' })) await a.applyEvent(job.id, { type: 'cancel' });
    }
  });

  it('number one job’s log lines and updates without gaps while they write and change it at once', async () => {
    const [a, b] = await servers(2);
    if (!a || !b) throw new Error('two servers');
    await a.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
    await a.claimNextQueued('cpu');
    // appends from both servers and a status change, all at once (a finished job still takes log lines and updates)
    const writes = Array.from({ length: 10 }, (_, index) => {
      const store = index % 2 === 0 ? a : b;
      return [
        store.appendLog('j', [`line ${index}.0`, `line ${index}.1`]),
        store.appendUpdates('j', [{ type: 'log', lines: [`update ${index}`] }]),
      ];
    });
    await Promise.all([...writes.flat(), b.applyEvent('j', { type: 'finish', outputs: ['out/j.safetensors'] })]);

    const lines = await b.readLog('j');
    expect(lines.map((line) => line.line_no)).toEqual(Array.from({ length: 20 }, (_, index) => index));
    expect(new Set(lines.map((line) => line.text)).size).toBe(20);
    const updates = await a.readUpdates('j');
    expect(updates.map((update) => update.seq)).toEqual(Array.from({ length: 13 }, (_, index) => index + 1));
    expect(updates.filter((update) => update.type === 'status').map((update) => update.status)).toEqual([
      'queued',
      'running',
      'done',
    ]);
  });
});

describe('openJobStore on a postgres:// location', () => {
  it('keeps JSON fields as JSONB and times as ISO text, and its close leaves the shared pool to other stores', async () => {
    const first = await openJobStore({ kind: 'postgres', url }, { now: tickingClock() });
    const config = { prompt: 'ink <lora:style:0.7>', weights: [0.5, 1e-7], nested: { 江南: true } };
    const job = await first.createJob({ id: 'j', kind: 'generate', device: 'cpu', config });
    await first.close();

    const second = await openJobStore({ kind: 'postgres', url });
    expect(await second.getJob('j')).toEqual(job);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        "SELECT pg_typeof(config)::text AS type, config->>'prompt' AS prompt, created_at FROM jobs",
      );
      expect(rows).toEqual([{ type: 'jsonb', prompt: 'ink <lora:style:0.7>', created_at: '2026-12-06T10:00:00.000Z' }]);
    } finally {
      await client.end();
    }
  });
});

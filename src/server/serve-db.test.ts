// `lora-scripts serve --db postgres://…` through the built CLI (`npm run build` first): the jobs it is given live in
// PostgreSQL, where its runner claims and ends them, and a `--db` it cannot use is one line naming the flag.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { jobSchema } from '../store/index.js';
import { type PostgresServer, startPostgresServer } from '../testing/postgres-server.js';
import { type ServeProcess, startServeProcess, waitFor } from '../testing/serve-process.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
/** Generous: a busy machine may take long to run the job. */
const WAIT_MS = 120_000;

let postgres: PostgresServer;
let dir: string;
let serving: ServeProcess | undefined;

beforeAll(async () => {
  postgres = await startPostgresServer();
}, 120_000);

afterAll(async () => {
  await postgres?.stop();
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'serve-db-'));
});

afterEach(async () => {
  if (serving && serving.child.exitCode === null && serving.child.signalCode === null) {
    serving.child.kill('SIGINT');
    await serving.exited;
  }
  serving = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function query<R extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

describe('lora-scripts serve --db', () => {
  it('keeps a submitted job, its runs and its updates in PostgreSQL, not in the workspace', async () => {
    const url = await postgres.createDatabase();
    const workspace = join(dir, 'ws');
    // an empty dataset: the prepare job runs in the server itself and fails fast, without the engine
    mkdirSync(join(workspace, 'datasets', 'empty'), { recursive: true });
    serving = await startServeProcess(workspace, ['--db', url]);
    expect(serving.stdout()).toContain(`records in ${url}`);

    const response = await fetch(new URL('/api/jobs', serving.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'prepare', config: { dataset: 'datasets/empty' } }),
    });
    expect(response.status).toBe(201);
    const submitted = jobSchema.parse(await response.json());

    const [stored] = await query<{ id: string; kind: string; config: unknown }>(
      url,
      'SELECT id, kind, config FROM jobs',
    );
    expect(stored).toEqual({ id: submitted.id, kind: 'prepare', config: { dataset: 'datasets/empty' } });
    // the server's runner claims it from PostgreSQL and writes its end there
    const ended = await waitFor(
      async () => {
        const [row] = await query<{ status: string }>(url, 'SELECT status FROM jobs WHERE id = $1', [submitted.id]);
        return row && ['done', 'failed'].includes(row.status) ? row.status : null;
      },
      { what: `job ${submitted.id} to end`, timeoutMs: WAIT_MS, pollMs: 200 },
    );
    const statuses = await query<{ status: string }>(
      url,
      "SELECT data->>'status' AS status FROM job_updates WHERE job_id = $1 AND data->>'type' = 'status' ORDER BY seq",
      [submitted.id],
    );
    expect(statuses.map((row) => row.status)).toEqual(['queued', 'running', ended]);
    const api = jobSchema.parse(await (await fetch(new URL(`/api/jobs/${submitted.id}`, serving.url))).json());
    expect(api.status).toBe(ended);
    expect(existsSync(join(workspace, '.lora-scripts', 'studio.db'))).toBe(false);

    serving.child.kill('SIGINT');
    expect(await serving.exited).toBe(0);
  });

  it('refuses a database it cannot keep records in with one line naming --db, before serving', () => {
    const result = spawnSync('node', [BIN, 'serve', '--port', '0', '--workspace', 'ws', '--db', 'mysql://x'], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect([result.status, result.stdout]).toEqual([2, '']);
    expect(result.stderr.split('\n')[0]).toBe(
      'error: --db: `mysql://x` is not a database this tool keeps its records in',
    );
  });
});

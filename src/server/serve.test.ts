// The real server over real HTTP on a free port: start, answer, refuse a foreign Host, close, restart.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LoraScriptsError } from '../errors.js';
import { openSqliteStore } from '../store/index.js';
import { TOOL_VERSION } from '../version.js';
import { errorBodySchema, jobResponseSchema, versionSchema } from './schemas.js';
import { type RunningServer, STORE_FILE, startServer } from './serve.js';

let dir: string;
let running: RunningServer[];
let logged: string[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-serve-'));
  running = [];
  logged = [];
});

afterEach(async () => {
  await Promise.all(running.map((server) => server.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(options: { host?: string; token?: string } = {}): Promise<RunningServer> {
  const server = await startServer({
    host: options.host ?? '127.0.0.1',
    port: 0,
    workspace: join(dir, 'workspace'),
    token: options.token,
    log: (line) => logged.push(line),
  });
  running.push(server);
  return server;
}

/** A GET with a Host header of our choosing (fetch does not let a caller set Host). */
function get(url: string, host?: string): Promise<{ status: number; body: unknown }> {
  return new Promise((done, fail) => {
    const target = new URL(url);
    const headers = host === undefined ? {} : { host };
    const req = request(target, { headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        text += chunk;
      });
      response.on('end', () => done({ status: response.statusCode ?? 0, body: JSON.parse(text) as unknown }));
    });
    req.on('error', fail);
    req.end();
  });
}

describe('startServer', () => {
  it('serves /api/version on loopback and refuses a foreign Host', async () => {
    const server = await start();
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(logged).toEqual([`lora-scripts studio on ${server.url} (workspace ${join(dir, 'workspace')})`]);

    const version = await get(new URL('/api/version', server.url).href);
    expect(version.status).toBe(200);
    expect(versionSchema.parse(version.body).version).toBe(TOOL_VERSION);

    const port = new URL(server.url).port;
    const rebound = await get(new URL('/api/version', server.url).href, `attacker.example:${port}`);
    expect(rebound.status).toBe(403);
    expect(errorBodySchema.parse(rebound.body).error.code).toBe('host_not_allowed');

    await server.close();
    await expect(get(new URL('/api/version', server.url).href)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('marks the jobs left running by the last server interrupted', async () => {
    const first = await start();
    await first.close();
    const store = openSqliteStore(join(dir, 'workspace', ...STORE_FILE));
    await store.createJob({ id: 'left-running', kind: 'train', device: 'cpu', config: {} });
    await store.applyEvent('left-running', { type: 'start' });
    await store.createJob({ id: 'still-queued', kind: 'train', device: 'cpu', config: {} });
    await store.close();

    logged = [];
    const second = await start();
    expect(logged[0]).toBe('1 job(s) were running when the server last stopped; marked interrupted: left-running');
    const job = await get(new URL('/api/jobs/left-running', second.url).href);
    expect(jobResponseSchema.parse(job.body).status).toBe('interrupted');
    const queued = await get(new URL('/api/jobs/still-queued', second.url).href);
    expect(jobResponseSchema.parse(queued.body).status).toBe('queued');
  });

  it('makes a token for a non-loopback host and puts it in the URL', async () => {
    const server = await start({ host: '0.0.0.0' });
    const token = new URL(server.url).searchParams.get('token');
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(logged[1]).toMatch(/a token was made/);
    const port = new URL(server.url).port;
    expect(server.url).toBe(`http://localhost:${port}/?token=${token}`);
    const without = await get(`http://127.0.0.1:${port}/api/version`);
    expect(without.status).toBe(401);
  });

  it('refuses a short token before creating the workspace', async () => {
    await expect(start({ host: '127.0.0.1', token: 'short' })).rejects.toThrow(LoraScriptsError);
    await expect(start({ host: '127.0.0.1', token: 'short' })).rejects.toMatchObject({ code: 'token_too_short' });
    expect(existsSync(join(dir, 'workspace'))).toBe(false);
  });

  it('names --port when the port is taken', async () => {
    const first = await start();
    const port = Number(new URL(first.url).port);
    const second = startServer({ host: '127.0.0.1', port, workspace: join(dir, 'other'), log: () => {} });
    await expect(second).rejects.toMatchObject({ code: 'port_in_use', culprit: '--port' });
  });
});

// The studio app through app.request(): each route on a real SQLite store, every body checked against its schema.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PROTOCOL_VERSION } from '../engine/index.js';
import { type JobStore, openSqliteStore } from '../store/index.js';
import { createApp, TOKEN_COOKIE, OPENAPI_PATH, type StudioApp } from './app.js';
import {
  errorBodySchema,
  jobListSchema,
  jobLogSchema,
  jobResponseSchema,
  openApiDocumentSchema,
  versionSchema,
} from './schemas.js';
import { accessPolicy, DEFAULT_LIMITS } from './security/index.js';

const PORT = 6008;
const HOST = `127.0.0.1:${PORT}`;

let dir: string;
let store: JobStore;
let app: StudioApp;
let logged: unknown[];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-app-'));
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  logged = [];
  app = createApp({
    store,
    workspace: dir,
    policy: accessPolicy({ host: '127.0.0.1', port: PORT }),
    version: '9.9.9',
    logError: (error) => logged.push(error),
  });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(target: StudioApp, path: string, init: RequestInit = {}) {
  const headers = new Headers(init.headers);
  if (!headers.has('host')) headers.set('host', HOST);
  const response = await target.request(`http://${HOST}${path}`, { ...init, headers });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** The body, parsed by the schema the route registers (throws, failing the test, when it does not match). */
function as<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return schema.parse(body);
}

function errorOf(body: unknown) {
  return as(errorBodySchema, body).error;
}

describe('GET /api/version', () => {
  it('names the tool, its version and the engine protocol', async () => {
    const { status, body } = await call(app, '/api/version');
    expect(status).toBe(200);
    expect(as(versionSchema, body)).toEqual({ name: 'lora-scripts', version: '9.9.9', protocol: PROTOCOL_VERSION });
  });
});

describe('GET /api/jobs', () => {
  it('lists jobs newest first, filtered by status, kind and limit', async () => {
    await store.createJob({ id: 'a', kind: 'train', device: 'cpu', config: { lr: 1 } });
    await store.createJob({ id: 'b', kind: 'generate', device: 'cpu', config: {} });
    await store.createJob({ id: 'c', kind: 'train', device: 'cpu', config: {} });
    await store.applyEvent('c', { type: 'start' });

    const ids = async (query: string) => {
      const { status, body } = await call(app, `/api/jobs${query}`);
      expect(status).toBe(200);
      return as(jobListSchema, body).jobs.map((job) => job.id);
    };
    expect(await ids('')).toEqual(['c', 'b', 'a']);
    expect(await ids('?kind=train')).toEqual(['c', 'a']);
    expect(await ids('?status=queued')).toEqual(['b', 'a']);
    expect(await ids('?status=running&kind=train')).toEqual(['c']);
    expect(await ids('?limit=1')).toEqual(['c']);
  });

  it('answers a limit that is not a whole number with 400 naming `limit`', async () => {
    for (const limit of ['abc', '1.5', '0', '100000', '1e2', '0x10', '', '-1']) {
      const { status, body } = await call(app, `/api/jobs?limit=${limit}`);
      expect(status).toBe(400);
      const error = errorOf(body);
      expect(error).toMatchObject({ code: 'invalid_request', field: 'limit' });
      expect(error.message).toBe('query field `limit`: send a whole number from 1 to 1000');
    }
  });

  it('answers an unknown status with 400 naming `status` and the allowed values', async () => {
    const { status, body } = await call(app, '/api/jobs?status=finished');
    expect(status).toBe(400);
    const error = errorOf(body);
    expect(error.field).toBe('status');
    expect(error.message).toMatch(/^query field `status`: .*"queued".*"interrupted"/);
  });
});

describe('GET /api/jobs/{id}', () => {
  it('returns the job as the store holds it', async () => {
    const created = await store.createJob({ id: 'job-1', kind: 'merge', device: 'cpu', config: { out: 'm.st' } });
    const { status, body } = await call(app, '/api/jobs/job-1');
    expect(status).toBe(200);
    expect(as(jobResponseSchema, body)).toEqual(created);
  });

  it('answers an unknown id with 404 naming the id', async () => {
    const { status, body } = await call(app, '/api/jobs/nope');
    expect(status).toBe(404);
    expect(errorOf(body)).toEqual({
      code: 'job_not_found',
      message: 'job `nope`: no such job',
      hint: 'list the jobs with `GET /api/jobs` to find its id',
    });
  });
});

describe('GET /api/jobs/{id}/log', () => {
  it('returns the lines from `from` on and where to continue', async () => {
    await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
    await store.appendLog('j', ['one', 'two', 'three']);

    const all = await call(app, '/api/jobs/j/log');
    expect(all.status).toBe(200);
    expect(as(jobLogSchema, all.body)).toEqual({
      lines: [
        { line_no: 0, text: 'one' },
        { line_no: 1, text: 'two' },
        { line_no: 2, text: 'three' },
      ],
      next: 3,
    });
    const rest = await call(app, '/api/jobs/j/log?from=2');
    expect(as(jobLogSchema, rest.body)).toEqual({ lines: [{ line_no: 2, text: 'three' }], next: 3 });
    const none = await call(app, '/api/jobs/j/log?from=3');
    expect(as(jobLogSchema, none.body)).toEqual({ lines: [], next: 3 });
  });

  it('answers a bad `from` with 400 and an unknown job with 404', async () => {
    const bad = await call(app, '/api/jobs/j/log?from=-1');
    expect([bad.status, errorOf(bad.body).field]).toEqual([400, 'from']);
    const missing = await call(app, '/api/jobs/ghost/log');
    expect([missing.status, errorOf(missing.body).message]).toEqual([404, 'job `ghost`: no such job']);
  });
});

describe('POST /api/jobs/{id}/cancel', () => {
  it('cancels a queued job', async () => {
    await store.createJob({ id: 'q', kind: 'train', device: 'cpu', config: {} });
    const { status, body } = await call(app, '/api/jobs/q/cancel', { method: 'POST' });
    expect(status).toBe(200);
    expect(as(jobResponseSchema, body).status).toBe('cancelled');
    expect((await store.getJob('q'))?.status).toBe('cancelled');
  });

  it('accepts an empty JSON object and a same-origin Origin', async () => {
    await store.createJob({ id: 'q', kind: 'train', device: 'cpu', config: {} });
    const { status } = await call(app, '/api/jobs/q/cancel', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://${HOST}` },
      body: '{}',
    });
    expect(status).toBe(200);
  });

  it('answers cancelling a finished job with 409 saying why', async () => {
    await store.createJob({ id: 'f', kind: 'train', device: 'cpu', config: {} });
    await store.applyEvent('f', { type: 'start' });
    await store.applyEvent('f', { type: 'finish', outputs: ['out/f.safetensors'] });
    const { status, body } = await call(app, '/api/jobs/f/cancel', { method: 'POST' });
    expect(status).toBe(409);
    expect(errorOf(body)).toEqual({
      code: 'illegal_job_transition',
      message: 'job `f`: cannot cancel a job that is done',
      hint: '`done` is final; submit a new job to run it again',
    });
    expect((await store.getJob('f'))?.status).toBe('done');
  });

  it('answers an unknown job with 404', async () => {
    const { status, body } = await call(app, '/api/jobs/ghost/cancel', { method: 'POST' });
    expect([status, errorOf(body).code]).toEqual([404, 'job_not_found']);
  });

  it('answers malformed JSON and unknown body fields with 400', async () => {
    await store.createJob({ id: 'q', kind: 'train', device: 'cpu', config: {} });
    const post = (body: string) =>
      call(app, '/api/jobs/q/cancel', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const malformed = await post('{"reason": ');
    expect([malformed.status, errorOf(malformed.body).code]).toEqual([400, 'bad_request']);
    expect(errorOf(malformed.body).message).toMatch(/malformed json/i);
    const extra = await post('{"force": true}');
    expect(extra.status).toBe(400);
    expect(errorOf(extra.body).message).toMatch(/^the json part of the request: .*"force"/);
    const array = await post('[]');
    expect([array.status, errorOf(array.body).field]).toEqual([400, 'json']);
    const form = await call(app, '/api/jobs/q/cancel', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'a=1',
    });
    expect([form.status, errorOf(form.body).code]).toEqual([415, 'unsupported_media_type']);
    expect((await store.getJob('q'))?.status).toBe('queued');
  });

  it('answers a body over the JSON limit with 413', async () => {
    await store.createJob({ id: 'q', kind: 'train', device: 'cpu', config: {} });
    const { status, body } = await call(app, '/api/jobs/q/cancel', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"pad": "${'x'.repeat(DEFAULT_LIMITS.bodyJsonBytes)}"}`,
    });
    expect([status, errorOf(body).code]).toEqual([413, 'body_too_large']);
    expect((await store.getJob('q'))?.status).toBe('queued');
  });
});

describe('access checks', () => {
  it('refuses a Host the server does not answer to with 403 (DNS rebinding)', async () => {
    const { status, body } = await call(app, '/api/version', { headers: { host: 'evil.example:6008' } });
    expect([status, errorOf(body).code]).toEqual([403, 'host_not_allowed']);
  });

  it('refuses a write from a foreign Origin with 403 and leaves the job alone', async () => {
    await store.createJob({ id: 'q', kind: 'train', device: 'cpu', config: {} });
    const { status, body } = await call(app, '/api/jobs/q/cancel', {
      method: 'POST',
      headers: { origin: 'http://evil.example' },
    });
    expect([status, errorOf(body).code]).toEqual([403, 'origin_not_allowed']);
    expect((await store.getJob('q'))?.status).toBe('queued');
  });

  it('needs the token on a server bound beyond loopback', async () => {
    const token = 'a-token-long-enough-to-pass';
    const lan = createApp({
      store,
      workspace: dir,
      policy: accessPolicy({ host: '0.0.0.0', port: PORT, token }),
      version: '9.9.9',
    });
    const missing = await call(lan, '/api/version');
    expect([missing.status, errorOf(missing.body).code]).toEqual([401, 'token_missing']);
    const wrong = await call(lan, '/api/version', { headers: { authorization: 'Bearer not-the-token-at-all' } });
    expect([wrong.status, errorOf(wrong.body).code]).toEqual([401, 'token_invalid']);
    const right = await call(lan, '/api/version', { headers: { authorization: `Bearer ${token}` } });
    expect(right.status).toBe(200);
  });

  it('logs a browser in from the printed `?token=` link with a strict, script-proof cookie', async () => {
    const token = 'a-token-long-enough-to-pass';
    const lan = createApp({
      store,
      workspace: dir,
      policy: accessPolicy({ host: '0.0.0.0', port: PORT, token }),
      version: '9.9.9',
    });
    const link = await lan.request(`/api/version?token=${token}`, { headers: { host: `studio.lan:${PORT}` } });
    expect(link.status).toBe(200);
    const cookie = link.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(new RegExp(`^${TOKEN_COOKIE}=${token};`));
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const withCookie = await lan.request('/api/jobs', {
      headers: { host: `studio.lan:${PORT}`, cookie: `${TOKEN_COOKIE}=${token}` },
    });
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers.get('set-cookie')).toBeNull();
  });
});

describe('errors', () => {
  it('answers an unknown route with a JSON 404', async () => {
    const { status, body } = await call(app, '/api/nothing-here');
    expect([status, errorOf(body).code]).toEqual([404, 'route_not_found']);
  });

  it('answers an unexpected failure with a generic 500 and logs the stack', async () => {
    await store.close();
    const { status, body } = await call(app, '/api/jobs');
    expect(status).toBe(500);
    expect(errorOf(body)).toEqual({
      code: 'internal_error',
      message: 'the server failed on this request; its log has the details',
    });
    expect(logged).toHaveLength(1);
    store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  });
});

describe(`GET ${OPENAPI_PATH}`, () => {
  it('documents every route with the schemas the routes use', async () => {
    const { status, body } = await call(app, OPENAPI_PATH);
    expect(status).toBe(200);
    const document = as(openApiDocumentSchema, body);
    expect(document.openapi).toMatch(/^3\./);
    const routes = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`),
    );
    // The routes of this file's tests; each resource's own tests check its routes.
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /api/jobs',
        'GET /api/jobs/{id}',
        'GET /api/jobs/{id}/log',
        'GET /api/jobs/{id}/events',
        'GET /api/jobs/{id}/stream',
        'GET /api/openapi.json',
        'GET /api/version',
        'POST /api/jobs',
        'POST /api/jobs/{id}/cancel',
        'POST /api/jobs/{id}/resume',
      ]),
    );
    const schemas = (document as { components?: { schemas?: Record<string, unknown> } }).components?.schemas ?? {};
    expect(Object.keys(schemas)).toEqual(
      expect.arrayContaining(['Job', 'JobList', 'JobLog', 'Version', 'Error', 'OpenApiDocument']),
    );
    // Each route's 200 body is the named schema the tests above parse its responses with.
    type Operation = { responses: { 200: { content: { 'application/json': { schema: { $ref: string } } } } } };
    const okSchema = (path: string, method: string) =>
      (document.paths[path] as Record<string, Operation>)[method]?.responses[200].content['application/json'].schema
        .$ref;
    expect({
      version: okSchema('/api/version', 'get'),
      list: okSchema('/api/jobs', 'get'),
      job: okSchema('/api/jobs/{id}', 'get'),
      log: okSchema('/api/jobs/{id}/log', 'get'),
      cancel: okSchema('/api/jobs/{id}/cancel', 'post'),
      document: okSchema(OPENAPI_PATH, 'get'),
    }).toEqual({
      version: '#/components/schemas/Version',
      list: '#/components/schemas/JobList',
      job: '#/components/schemas/Job',
      log: '#/components/schemas/JobLog',
      cancel: '#/components/schemas/Job',
      document: '#/components/schemas/OpenApiDocument',
    });
    const jobs = document.paths['/api/jobs'] as { get: { parameters: { name: string }[] } };
    expect(jobs.get.parameters.map((parameter) => parameter.name).sort()).toEqual(['kind', 'limit', 'status']);
  });
});

// The API contract, route by route from the OpenAPI registry: malformed requests of every kind get a 4xx whose status
// the route declares and whose body is the Error schema — never a 5xx, never an undeclared status.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from '@hono/zod-openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type JobStore, openSqliteStore } from '../store/index.js';
import { createApp, type StudioApp } from './app.js';
import { errorBodySchema } from './schemas.js';
import { accessPolicy } from './security/index.js';

const HOST = '127.0.0.1:6008';

interface RouteEntry {
  method: string;
  path: string;
  responses: Record<string, { content?: Record<string, { schema?: z.ZodType }> }>;
  bodyKeys: string[];
  hasBody: boolean;
}

let dir: string;
let store: JobStore;
let app: StudioApp;
let routes: RouteEntry[];
const unexpected: unknown[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-contract-'));
  mkdirSync(join(dir, 'datasets', 'cats'), { recursive: true });
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  await store.createJob({ id: 'existing', kind: 'train', device: 'default', config: {} });
  app = createApp({
    store,
    workspace: dir,
    policy: accessPolicy({ host: '127.0.0.1', port: 6008 }),
    version: '0',
    logError: (error) => unexpected.push(error),
  });
  routes = app.openAPIRegistry.definitions.flatMap((definition) => {
    if (definition.type !== 'route') return [];
    const { route } = definition;
    const json = route.request?.body?.content?.['application/json'] as { schema?: z.ZodType } | undefined;
    const body = json?.schema;
    const shape = (body as unknown as { shape?: Record<string, unknown> } | undefined)?.shape;
    return [
      {
        method: route.method.toUpperCase(),
        path: route.path,
        responses: route.responses as RouteEntry['responses'],
        bodyKeys: Object.keys(shape ?? {}),
        hasBody: route.request?.body !== undefined,
      },
    ];
  });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Path parameters filled with a value of the right kind that names nothing (or the one job that exists). */
function concretePath(path: string, fill: string): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => (name === 'id' ? fill : `${fill}-${name}`));
}

async function send(route: RouteEntry, path: string, body?: string, contentType = 'application/json') {
  const headers: Record<string, string> = { host: HOST };
  if (body !== undefined) headers['content-type'] = contentType;
  const response = await app.request(`http://${HOST}${path}`, { method: route.method, headers, body });
  const type = response.headers.get('content-type') ?? '';
  // An event stream of a job that is still queued never ends: its status and type are what is checked.
  if (type.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, text: '', type };
  }
  return { status: response.status, text: await response.text(), type };
}

/** The response must be a status the route declares; a JSON body must validate against that status's schema. */
function checkAgainstContract(
  route: RouteEntry,
  label: string,
  { status, text, type }: Awaited<ReturnType<typeof send>>,
) {
  const where = `${route.method} ${route.path} ${label} → ${status} ${text.slice(0, 200)}`;
  expect(status, where).toBeLessThan(500);
  expect(Object.keys(route.responses), where).toContain(String(status));
  // The A1111-compatible API answers in A1111's own error shapes, which its routes declare (checked just below).
  if (status >= 400 && !route.path.startsWith('/sdapi/'))
    expect(() => errorBodySchema.parse(JSON.parse(text)), where).not.toThrow();
  const schema = route.responses[String(status)]?.content?.['application/json']?.schema;
  if (schema && type.startsWith('application/json')) {
    const parsed = schema.safeParse(JSON.parse(text));
    expect(parsed.success, `${where}\n${parsed.error?.message ?? ''}`).toBe(true);
  }
}

const MALFORMED_BODIES: [string, string][] = [
  ['broken JSON', '{"a": '],
  ['an array', '[1, 2]'],
  ['a string', '"text"'],
  ['null', 'null'],
  ['an unknown key', '{"no_such_field_anywhere": 1}'],
];

const WRONG_VALUES: unknown[] = [null, -1, 1e308, 'x'.repeat(5000), '../../etc/passwd', '/etc/passwd', {}, [], true];

describe('every route of the OpenAPI document', () => {
  it('is listed (the registry is what the contract checks walk)', () => {
    expect(routes.length).toBeGreaterThanOrEqual(10);
  });

  it('answers unknown ids and names with a declared 4xx or an empty result, never a 5xx', async () => {
    for (const route of routes) {
      const path = concretePath(route.path, 'nothing-here');
      const body = route.hasBody ? '{}' : undefined;
      checkAgainstContract(route, 'unknown id', await send(route, path, body));
    }
  });

  it('answers malformed bodies with 400 (or 415) and the Error schema', async () => {
    for (const route of routes.filter((each) => each.hasBody)) {
      const path = concretePath(route.path, 'existing');
      for (const [label, body] of MALFORMED_BODIES) checkAgainstContract(route, label, await send(route, path, body));
      const plain = await send(route, path, 'a=b', 'text/plain');
      checkAgainstContract(route, 'text/plain body', plain);
    }
  });

  it('answers a wrong value in each body field with a declared 4xx naming what to do', async () => {
    for (const route of routes.filter((each) => each.bodyKeys.length > 0)) {
      const path = concretePath(route.path, 'existing');
      for (const key of route.bodyKeys) {
        for (const value of WRONG_VALUES) {
          const response = await send(route, path, JSON.stringify({ [key]: value }));
          checkAgainstContract(route, `${key}=${JSON.stringify(value).slice(0, 20)}`, response);
        }
      }
    }
  });

  it('answers garbage query values with a declared status', async () => {
    for (const route of routes.filter((each) => each.method === 'GET')) {
      const path = concretePath(route.path, 'existing');
      for (const query of ['?limit=abc', '?after=-1', '?from=1e3', '?path=../x', '?path=/etc/passwd', '?thumb=9']) {
        checkAgainstContract(route, query, await send(route, `${path}${query}`));
      }
    }
  });

  it('logged no unexpected error while answering all of that', () => {
    expect(unexpected).toEqual([]);
  });
});

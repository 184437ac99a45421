// The experiments routes through app.request() on a real SQLite file: every answer parsed by the schema its route
// declares; bad input is a 4xx naming the field.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { assignArm, experimentReportSchema, experimentSchema } from '../../experiments/index.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, OPENAPI_PATH, type StudioApp } from '../app.js';
import { errorBodySchema, openApiDocumentSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import {
  assignmentSchema,
  experimentListSchema,
  importResultSchema,
  ingestResultSchema,
  planSchema,
} from './experiments.js';

const HOST = '127.0.0.1:6008';
let dir: string;
let store: JobStore;
let app: StudioApp;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-experiment-routes-'));
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  app = createApp({
    store,
    workspace: dir,
    policy: accessPolicy({ host: '127.0.0.1', port: 6008 }),
    version: '0',
    logError: (error) => {
      throw error;
    },
  });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function call(path: string, init: { method?: string; json?: unknown } = {}) {
  const headers: Record<string, string> = { host: HOST };
  if (init.json !== undefined) headers['content-type'] = 'application/json';
  const response = await app.request(`http://${HOST}${path}`, {
    method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
    headers,
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  return {
    status: response.status,
    type,
    text,
    body: type.startsWith('application/json') ? (JSON.parse(text) as unknown) : text,
  };
}

function as<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return schema.parse(body);
}

const EXPERIMENT = {
  id: 'jiangnan-cover',
  arms: [
    { name: 'generic', weight: 1 },
    { name: 'regional', weight: 1, style: 'jiangnan_style', strength: 0.7 },
  ],
  baseline_ctr: 0.05,
  min_detectable_lift: 0.23,
};

async function createExperiment() {
  const { status, body } = await call('/api/experiments', { json: EXPERIMENT });
  expect(status).toBe(201);
  return as(experimentSchema, body);
}

describe('experiments routes', () => {
  it('create, read, list (filtered by style); a second create of the id is 409 naming `id`', async () => {
    const created = await createExperiment();
    expect(created).toMatchObject({ id: 'jiangnan-cover', control: 'generic', planned_users_per_arm: 6248 });
    expect(as(experimentSchema, (await call('/api/experiments/jiangnan-cover')).body)).toEqual(created);
    const listed = as(experimentListSchema, (await call('/api/experiments?style=jiangnan_style')).body);
    expect(listed.experiments.map((each) => each.id)).toEqual(['jiangnan-cover']);
    expect(as(experimentListSchema, (await call('/api/experiments?style=other')).body).experiments).toEqual([]);
    const again = await call('/api/experiments', { json: EXPERIMENT });
    expect(again.status).toBe(409);
    expect(as(errorBodySchema, again.body).error).toMatchObject({ code: 'experiment_exists', field: 'id' });
  });

  it('assigns users by hash, the same every time and the same as the library function', async () => {
    const experiment = await createExperiment();
    const first = as(assignmentSchema, (await call('/api/experiments/jiangnan-cover/assign?user_id=u-17')).body);
    const second = as(assignmentSchema, (await call('/api/experiments/jiangnan-cover/assign?user_id=u-17')).body);
    expect(first).toEqual(second);
    expect(first).toEqual({ experiment_id: 'jiangnan-cover', user_id: 'u-17', ...assignArm(experiment, 'u-17') });
  });

  it('ingests a batch once: sent twice, the second changes nothing', async () => {
    await createExperiment();
    const events = [
      { type: 'exposure', event_id: 'e1', user_id: 'u1', at: '2026-12-01T08:00:00Z', arm: 'generic' },
      { type: 'exposure', event_id: 'e2', user_id: 'u2', at: '2026-12-01T08:00:00Z', arm: 'regional' },
      { type: 'click', event_id: 'c1', user_id: 'u2', at: '2026-12-01T08:05:00+08:00' },
    ];
    const first = await call('/api/experiments/jiangnan-cover/events', { json: { events } });
    expect(as(ingestResultSchema, first.body)).toEqual({ accepted: 3, duplicates: 0 });
    const report = as(experimentReportSchema, (await call('/api/experiments/jiangnan-cover/report')).body);
    const second = await call('/api/experiments/jiangnan-cover/events', { json: { events } });
    expect(as(ingestResultSchema, second.body)).toEqual({ accepted: 0, duplicates: 3 });
    expect(as(experimentReportSchema, (await call('/api/experiments/jiangnan-cover/report')).body)).toEqual(report);
    expect(report.overall.arms.map((arm) => [arm.arm, arm.users, arm.clicks])).toEqual([
      ['generic', 1, 0],
      ['regional', 1, 1],
    ]);
  });

  it('imports CSV counts and reports on them, as JSON and as CSV', async () => {
    await createExperiment();
    const csv = [
      'day,segment,arm,users,clicks',
      '2026-12-01,jiangsu,generic,4000,200',
      '2026-12-01,jiangsu,regional,4000,262',
      '2026-12-02,jiangsu,generic,4000,196',
      '2026-12-02,jiangsu,regional,4000,250',
      '2026-12-01,sichuan,generic,3000,150',
      '2026-12-01,sichuan,regional,3000,151',
    ].join('\n');
    const imported = await call('/api/experiments/jiangnan-cover/counts', { json: { csv } });
    expect(as(importResultSchema, imported.body)).toEqual({ rows: 6 });
    const report = as(experimentReportSchema, (await call('/api/experiments/jiangnan-cover/report')).body);
    expect(report.overall.days).toBe(2);
    expect(report.segments.map((segment) => segment.segment)).toEqual(['jiangsu', 'sichuan']);
    expect(report.segments[0]!.verdict).toMatchObject({ decision: 'ship', arm: 'regional', test: 'fixed' });
    const exported = await call('/api/experiments/jiangnan-cover/report.csv');
    expect(exported.status).toBe(200);
    expect(exported.type).toMatch(/^text\/csv/);
    const lines = exported.text.trim().split('\n');
    expect(lines[0]).toMatch(/^segment,arm,users,clicks,ctr,/);
    expect(lines).toHaveLength(1 + 2 * 3);
    expect(lines[1]).toMatch(/^,generic,11000,546,/);
  });

  it('plans both ways: users for a lift, and the lift for users', async () => {
    const forLift = as(
      planSchema,
      (await call('/api/experiments/plan', { json: { baseline_ctr: 0.05, relative_lift: 0.1 } })).body,
    );
    expect(forLift).toMatchObject({ control_users: 31_234, treatment_users: 31_234, total_users: 62_468 });
    expect(forLift.power).toBeCloseTo(0.8, 3);
    const forUsers = as(
      planSchema,
      (await call('/api/experiments/plan', { json: { baseline_ctr: 0.05, users_per_arm: 31_234 } })).body,
    );
    expect(forUsers.relative_lift).toBeCloseTo(0.1, 3);
  });

  it('every route is in the OpenAPI document', async () => {
    const document = as(openApiDocumentSchema, (await call(OPENAPI_PATH)).body);
    for (const path of [
      '/api/experiments',
      '/api/experiments/plan',
      '/api/experiments/{id}',
      '/api/experiments/{id}/assign',
      '/api/experiments/{id}/events',
      '/api/experiments/{id}/counts',
      '/api/experiments/{id}/report',
      '/api/experiments/{id}/report.csv',
    ]) {
      expect(Object.keys(document.paths)).toContain(path);
    }
  });
});

describe('bad input is a 4xx naming the field', () => {
  const errorOf = (body: unknown) => as(errorBodySchema, body).error;

  it.each([
    [{ ...EXPERIMENT, id: 'Has Spaces' }, 'id'],
    [{ ...EXPERIMENT, arms: [{ name: 'only', weight: 1 }] }, 'arms'],
    [
      {
        ...EXPERIMENT,
        arms: [
          { name: 'a', weight: 0 },
          { name: 'b', weight: 1 },
        ],
      },
      'arms.0.weight',
    ],
    [{ ...EXPERIMENT, control: 'nope' }, 'control'],
    [{ ...EXPERIMENT, baseline_ctr: undefined }, 'baseline_ctr'],
    [{ ...EXPERIMENT, alpha: 0.5 }, 'alpha'],
    [{ ...EXPERIMENT, extra: 1 }, 'experiment'],
  ])('create %#: field %s', async (body, field) => {
    const { status, body: answer } = await call('/api/experiments', { json: body });
    expect(status).toBe(400);
    const error = errorOf(answer);
    if (field === 'experiment') expect(error.message).toContain('extra');
    else expect(error.field).toBe(field);
  });

  it('events: a bad time, an unknown type, an unknown arm, an empty batch', async () => {
    await createExperiment();
    const send = (events: unknown) => call('/api/experiments/jiangnan-cover/events', { json: { events } });
    const badTime = await send([{ type: 'click', event_id: 'c', user_id: 'u', at: 'yesterday' }]);
    expect(badTime.status).toBe(400);
    expect(errorOf(badTime.body).field).toBe('events.0.at');
    const badType = await send([{ type: 'view', event_id: 'c', user_id: 'u', at: '2026-12-01T00:00:00Z' }]);
    expect(errorOf(badType.body).field).toBe('events.0.type');
    const badArm = await send([
      { type: 'exposure', event_id: 'e1', user_id: 'u', at: '2026-12-01T00:00:00Z' },
      { type: 'exposure', event_id: 'e2', user_id: 'u', at: '2026-12-01T00:00:00Z', arm: 'nope' },
    ]);
    expect(badArm.status).toBe(400);
    expect(errorOf(badArm.body)).toMatchObject({ code: 'invalid_request', field: 'events.1.arm' });
    expect(errorOf((await send([])).body).field).toBe('events');
  });

  it('CSV: the line and the column in the message, `csv` as the field', async () => {
    await createExperiment();
    const csv = 'day,arm,users,clicks\n2026-12-01,generic,100,5\n2026-12-01,regional,100,x\n';
    const { status, body } = await call('/api/experiments/jiangnan-cover/counts', { json: { csv } });
    expect(status).toBe(400);
    expect(errorOf(body)).toMatchObject({
      code: 'invalid_counts_csv',
      field: 'csv',
      message: 'line 3, column `clicks`: must be a whole number ≥ 0, got "x"',
    });
  });

  it('plan: both or neither of relative_lift and users_per_arm; a CTR outside (0, 1)', async () => {
    const neither = await call('/api/experiments/plan', { json: { baseline_ctr: 0.05 } });
    expect(errorOf(neither.body).field).toBe('relative_lift');
    const badCtr = await call('/api/experiments/plan', { json: { baseline_ctr: 5, relative_lift: 0.1 } });
    expect(errorOf(badCtr.body).field).toBe('baseline_ctr');
  });

  it('unknown experiments are 404; a bad id or a missing user_id is 400', async () => {
    for (const path of [
      '/api/experiments/nope',
      '/api/experiments/nope/report',
      '/api/experiments/nope/assign?user_id=u',
    ]) {
      const { status, body } = await call(path);
      expect(status).toBe(404);
      expect(errorOf(body).code).toBe('experiment_not_found');
    }
    expect(errorOf((await call('/api/experiments/BAD%20ID')).body).field).toBe('id');
    await createExperiment();
    expect(errorOf((await call('/api/experiments/jiangnan-cover/assign')).body).field).toBe('user_id');
  });
});

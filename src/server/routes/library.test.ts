// The library routes through app.request() on a real SQLite file and real LoRA files: every response parsed by the
// schema its route declares, bad input answered with a 4xx naming what to do.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { writeSampleDataset } from '../../demo/index.js';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { WORKSPACE_STORE_FILE } from '../../library/index.js';
import { readSafetensors, writeSafetensorsAtomic } from '../../lora/index.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, OPENAPI_PATH, STORE_FILE, type StudioApp } from '../app.js';
import { errorBodySchema, openApiDocumentSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import {
  addedVersionSchema,
  continuedSchema,
  regionListSchema,
  regionSchema,
  removedRegionSchema,
  resolveResultSchema,
  styleDetailSchema,
  styleListSchema,
  styleSchema,
  styleVersionSchema,
} from './library-schemas.js';

const HOST = '127.0.0.1:6008';
const FIXTURE = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'kohya-sd1-tiny.safetensors');

let dir: string;
let store: JobStore;
let app: StudioApp;
let logged: unknown[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-library-routes-'));
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  logged = [];
  app = createApp({
    store,
    workspace: dir,
    policy: accessPolicy({ host: '127.0.0.1', port: 6008 }),
    version: '0',
    logError: (error) => logged.push(error),
  });
  await loraFile('jiangnan.safetensors', { v: '1' });
  await loraFile('rainy.safetensors', { v: '2' });
});

afterEach(async () => {
  expect(logged).toEqual([]);
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function loraFile(name: string, metadata: Record<string, string>): Promise<void> {
  const content = await readSafetensors(FIXTURE);
  mkdirSync(join(dir, 'output'), { recursive: true });
  await writeSafetensorsAtomic(join(dir, 'output', name), {
    metadata: { ...content.metadata, ...metadata },
    tensors: content.tensors,
  });
}

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

function as<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return schema.parse(body);
}

const errorOf = (body: unknown) => as(errorBodySchema, body).error;

async function addAndPromote(style: string, file: string, strength = 0.7) {
  const added = await call(`/api/library/styles/${style}/versions`, 'POST', { lora_path: `output/${file}`, strength });
  const { version } = as(addedVersionSchema, added.body);
  await call(`/api/library/styles/${style}/versions/${version.version}/promote`, 'POST');
  return version;
}

describe('styles and versions', () => {
  it('adds a version (201), the same bytes again (200, same version), lists, shows and edits', async () => {
    const first = await call('/api/library/styles/jiangnan_style/versions', 'POST', {
      lora_path: 'output/jiangnan.safetensors',
      strength: 0.7,
      trigger_words: ['jnstyle'],
      tags: ['water'],
      prompt_template: '{title}, water town, <lora:{style}:{strength}>',
    });
    expect(first.status).toBe(201);
    const added = as(addedVersionSchema, first.body);
    expect(added).toMatchObject({ is_new: true, version: { version: 1, status: 'draft', strength: 0.7 } });
    expect(
      readFileSync(join(dir, added.version.lora_path)).equals(
        readFileSync(join(dir, 'output', 'jiangnan.safetensors')),
      ),
    ).toBe(true);

    const again = await call('/api/library/styles/jiangnan_style/versions', 'POST', {
      lora_path: 'output/jiangnan.safetensors',
    });
    expect(again.status).toBe(200);
    expect(as(addedVersionSchema, again.body)).toEqual({ version: added.version, is_new: false });

    const list = await call('/api/library/styles');
    expect(as(styleListSchema, list.body).styles).toEqual([
      expect.objectContaining({ name: 'jiangnan_style', versions: 1, promoted: null }),
    ]);
    const detail = as(styleDetailSchema, (await call('/api/library/styles/jiangnan_style')).body);
    expect(detail.prompt_template).toBe('{title}, water town, <lora:{style}:{strength}>');
    expect(detail.versions).toEqual([added.version]);

    const edited = await call('/api/library/styles/jiangnan_style/versions/1', 'PATCH', {
      notes: 'soft light',
      strength: 0.6,
    });
    expect(as(styleVersionSchema, edited.body)).toMatchObject({ notes: 'soft light', strength: 0.6, tags: ['water'] });
    const read = await call('/api/library/styles/jiangnan_style/versions/1');
    expect(as(styleVersionSchema, read.body).notes).toBe('soft light');

    const template = await call('/api/library/styles/jiangnan_style', 'PATCH', { prompt_template: '{title}' });
    expect(as(styleSchema, template.body).prompt_template).toBe('{title}');
  });

  it('promotes and retires with the lifecycle rules, as 409 when the status refuses', async () => {
    await addAndPromote('s', 'jiangnan.safetensors');
    await call('/api/library/styles/s/versions', 'POST', { lora_path: 'output/rainy.safetensors' });
    const promoted = await call('/api/library/styles/s/versions/2/promote', 'POST');
    expect(as(styleVersionSchema, promoted.body).status).toBe('promoted');
    const detail = as(styleDetailSchema, (await call('/api/library/styles/s')).body);
    expect(detail.versions.map((v) => v.status)).toEqual(['retired', 'promoted']);
    const twice = await call('/api/library/styles/s/versions/2/promote', 'POST');
    expect(twice.status).toBe(409);
    expect(errorOf(twice.body)).toMatchObject({
      code: 'illegal_version_transition',
      message: 'style `s`: version 2 is already promoted',
    });
    const retired = await call('/api/library/styles/s/versions/2/retire', 'POST');
    expect(as(styleVersionSchema, retired.body).status).toBe('retired');
  });

  it('answers bad input with a 4xx naming the field or the thing missing', async () => {
    const cases: [string, string, unknown, number, string][] = [
      ['/api/library/styles/nope', 'GET', undefined, 404, 'style_not_found'],
      ['/api/library/styles/nope/versions/1', 'GET', undefined, 404, 'style_not_found'],
      ['/api/library/styles/nope/versions/1/promote', 'POST', undefined, 404, 'style_not_found'],
      [
        '/api/library/styles/bad:name/versions',
        'POST',
        { lora_path: 'output/jiangnan.safetensors' },
        400,
        'invalid_request',
      ],
      ['/api/library/styles/s/versions', 'POST', { lora_path: '../outside.safetensors' }, 400, 'path_unsafe'],
      ['/api/library/styles/s/versions', 'POST', { lora_path: '/etc/passwd' }, 400, 'path_unsafe'],
      [
        '/api/library/styles/s/versions',
        'POST',
        { lora_path: 'output/missing.safetensors' },
        400,
        'library_file_unreadable',
      ],
      [
        '/api/library/styles/s/versions',
        'POST',
        { lora_path: 'output/jiangnan.safetensors', colour: 1 },
        400,
        'invalid_request',
      ],
      [
        '/api/library/styles/s/versions',
        'POST',
        { lora_path: 'output/jiangnan.safetensors', prompt_template: '{x}' },
        400,
        'invalid_prompt_template',
      ],
      ['/api/library/styles/s/versions/abc', 'GET', undefined, 400, 'invalid_request'],
      ['/api/library/regions', 'POST', { level: 'town', style: 's' }, 400, 'invalid_request'],
      ['/api/library/regions', 'POST', { level: 'city', place: 'X', style: 'nope' }, 404, 'style_not_found'],
      ['/api/library/regions/77', 'DELETE', undefined, 404, 'region_not_found'],
      ['/api/library/resolve?at=tomorrow', 'GET', undefined, 400, 'invalid_request'],
      ['/api/library/styles/nope/continue', 'POST', { train_data_dir: 'data' }, 404, 'style_not_found'],
      ['/api/library/styles/nope/continue', 'POST', {}, 400, 'invalid_request'],
    ];
    for (const [path, method, body, status, code] of cases) {
      const response = await call(path, method, body);
      expect([path, response.status, errorOf(response.body).code]).toEqual([path, status, code]);
    }
    const field = await call('/api/library/styles/s/versions', 'POST', {
      lora_path: 'output/jiangnan.safetensors',
      strength: 'high',
    });
    expect(errorOf(field.body)).toMatchObject({ field: 'strength' });
  });
});

describe('regions', () => {
  it('sets, lists, resolves with fallbacks and windows, and removes rules', async () => {
    await addAndPromote('generic', 'jiangnan.safetensors', 1);
    const jiangnan = await addAndPromote('jiangnan_style', 'rainy.safetensors', 0.7);
    const set = async (rule: unknown) => as(regionSchema, (await call('/api/library/regions', 'POST', rule)).body);
    await set({ level: 'default', style: 'generic' });
    const zhejiang = await set({ level: 'province', place: 'Zhejiang', style: 'jiangnan_style' });
    const event = await set({
      level: 'province',
      place: 'Zhejiang',
      style: 'generic',
      from: '2026-07-01',
      until: '2026-07-15',
    });
    expect(event).toMatchObject({ from: '2026-07-01T00:00:00.000Z', until: '2026-07-15T00:00:00.000Z' });
    expect(as(regionListSchema, (await call('/api/library/regions')).body).regions.map((r) => r.id)).toEqual([
      1,
      zhejiang.id,
      event.id,
    ]);

    const resolve = async (query: string) =>
      as(resolveResultSchema, (await call(`/api/library/resolve?${query}`)).body);
    const outside = await resolve('city=Hangzhou&province=zhejiang&at=2026-08-01T00:00:00Z');
    expect(outside).toEqual({
      at: '2026-08-01T00:00:00.000Z',
      resolved: {
        style: 'jiangnan_style',
        version: 1,
        sha256: jiangnan.sha256,
        lora_path: jiangnan.lora_path,
        strength: 0.7,
        prompt_template: null,
        trigger_words: [],
        base_model: null,
        matched: 'province',
      },
    });
    expect((await resolve('province=Zhejiang&at=2026-07-02T08:00:00%2B08:00')).resolved?.style).toBe('generic');
    expect((await resolve('city=Lhasa')).resolved).toMatchObject({ style: 'generic', matched: 'default' });

    const removed = await call('/api/library/regions/1', 'DELETE');
    expect(as(removedRegionSchema, removed.body)).toEqual({ id: 1 });
    expect((await resolve('city=Lhasa')).resolved).toBeNull();
  });
});

describe('continue', () => {
  it('queues a train job from the promoted version; the done job becomes version 2 with parent 1', async () => {
    mkdirSync(join(dir, 'models'));
    copyFileSync(join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors'), join(dir, 'models', 'demo-sd1.safetensors'));
    await writeSampleDataset({ dir: join(dir, 'data', 'rain'), styles: ['jiangnan'], count: 2, seed: 1, sizePx: 64 });
    const parent = await addAndPromote('jiangnan_style', 'jiangnan.safetensors');

    const noBase = await call('/api/library/styles/jiangnan_style/continue', 'POST', { train_data_dir: 'data/rain' });
    expect(noBase.status).toBe(400);
    expect(errorOf(noBase.body)).toMatchObject({
      code: 'invalid_continuation',
      message: 'base_model: version 1 does not record its base model',
    });
    await call('/api/library/styles/jiangnan_style/versions/1', 'PATCH', { base_model: 'models/demo-sd1.safetensors' });
    const ownInit = await call('/api/library/styles/jiangnan_style/continue', 'POST', {
      train_data_dir: 'data/rain',
      init_lora: 'x',
    });
    expect(errorOf(ownInit.body).code).toBe('invalid_continuation');
    const badKey = await call('/api/library/styles/jiangnan_style/continue', 'POST', {
      train_data_dir: 'data/rain',
      lora_rnak: 4,
    });
    expect(badKey.status).toBe(400);

    const response = await call('/api/library/styles/jiangnan_style/continue', 'POST', {
      train_data_dir: 'data/rain',
      max_train_steps: 2,
      resolution: 64,
    });
    expect(response.status).toBe(201);
    const { job, continuation } = as(continuedSchema, response.body);
    expect(job).toMatchObject({ kind: 'train', status: 'queued' });
    expect(job.config).toMatchObject({
      init_lora: parent.lora_path,
      base_model: 'models/demo-sd1.safetensors',
      train_data_dir: 'data/rain',
      output_name: 'jiangnan_style',
      max_train_steps: 2,
    });
    expect(continuation).toMatchObject({ job_id: job.id, parent_version: 1, state: 'pending' });

    // The runner's part, done by hand: the job finishes with a LoRA among its outputs.
    await loraFile('continued.safetensors', { v: '3' });
    await store.claimNextQueued('default');
    await store.applyEvent(job.id, { type: 'finish', outputs: ['output/continued.safetensors'] });
    const detail = as(styleDetailSchema, (await call('/api/library/styles/jiangnan_style')).body);
    expect(detail.versions[1]).toMatchObject({
      version: 2,
      status: 'draft',
      parent_version: 1,
      source_name: 'continued.safetensors',
    });
    expect(detail.continuations).toEqual([expect.objectContaining({ job_id: job.id, state: 'added', version: 2 })]);
  });

  it('answers 409 for a style with no promoted version', async () => {
    await call('/api/library/styles/s/versions', 'POST', { lora_path: 'output/jiangnan.safetensors' });
    const response = await call('/api/library/styles/s/continue', 'POST', { train_data_dir: 'data' });
    expect(response.status).toBe(409);
    expect(errorOf(response.body)).toMatchObject({
      code: 'no_promoted_version',
      hint: 'promote one with `lora-scripts library promote STYLE VERSION`',
    });
  });
});

describe('the store file', () => {
  it("is where generate's library lookup looks (the runner cannot import the app to ask)", () => {
    expect(WORKSPACE_STORE_FILE).toEqual(STORE_FILE);
  });
});

describe('the OpenAPI document', () => {
  it('lists every library route', async () => {
    const document = as(openApiDocumentSchema, (await call(OPENAPI_PATH)).body);
    const paths = Object.keys(document.paths).filter((path) => path.startsWith('/api/library'));
    expect(paths.sort()).toEqual([
      '/api/library/regions',
      '/api/library/regions/{id}',
      '/api/library/resolve',
      '/api/library/styles',
      '/api/library/styles/{name}',
      '/api/library/styles/{name}/continue',
      '/api/library/styles/{name}/versions',
      '/api/library/styles/{name}/versions/{version}',
      '/api/library/styles/{name}/versions/{version}/promote',
      '/api/library/styles/{name}/versions/{version}/retire',
    ]);
  });
});

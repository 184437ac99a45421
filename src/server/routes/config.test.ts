// /api/config/* through app.request() on a real workspace: every response parsed by the schema its route declares.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { CONFIG_KEYS, validateConfig } from '../../config/index.js';
import { writeSampleDataset } from '../../demo/index.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, OPENAPI_PATH, type StudioApp } from '../app.js';
import { configFormSchema, configYamlSchema, parsedConfigSchema, preflightReportSchema } from '../config-form/index.js';
import { errorBodySchema, openApiDocumentSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';

const ROOT = join(import.meta.dirname, '../../..');
const PORT = 6008;
const HOST = `127.0.0.1:${PORT}`;
const GOOD = { train_data_dir: 'datasets/demo', base_model: 'models/demo-sd1.safetensors' };

let dir: string;
let workspace: string;
let store: JobStore;
let app: StudioApp;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-config-routes-'));
  workspace = join(dir, 'workspace');
  mkdirSync(join(workspace, 'models'), { recursive: true });
  copyFileSync(join(ROOT, 'models', 'demo-sd1.safetensors'), join(workspace, 'models', 'demo-sd1.safetensors'));
  copyFileSync(
    join(ROOT, 'tests', 'fixtures', 'lora', 'kohya-sd1-tiny.safetensors'),
    join(workspace, 'models', 'style.safetensors'),
  );
  await writeSampleDataset({
    dir: join(workspace, 'datasets', 'demo'),
    styles: ['jiangnan'],
    count: 4,
    seed: 3,
    sizePx: 64,
  });
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
  app = createApp({
    store,
    workspace,
    policy: accessPolicy({ host: '127.0.0.1', port: PORT }),
    version: '9.9.9',
    // An engine cache with nothing in it: the device stays unknown, and no test starts Python.
    env: { ...process.env, LORA_SCRIPTS_CACHE_DIR: join(dir, 'no-engine'), LORA_SCRIPTS_ENGINE_VENV: '' },
  });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function request(path: string, init: { method?: string; body?: unknown; raw?: string } = {}) {
  const body = init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body));
  const response = await app.request(`http://${HOST}${path}`, {
    method: init.method ?? (body === undefined ? 'GET' : 'POST'),
    headers: { host: HOST, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body }),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** The body, parsed by the schema the route declares (a mismatch fails the test). */
function as<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return schema.parse(body) as z.infer<T>;
}

describe('GET /api/config/schema', () => {
  it('lists every config key as a field', async () => {
    const { status, body } = await request('/api/config/schema');
    expect(status).toBe(200);
    const { fields } = as(configFormSchema, body);
    expect(fields.map((f) => f.key)).toEqual(CONFIG_KEYS);
    expect(fields.find((f) => f.key === 'lora_rank')).toMatchObject({ type: 'integer', accepts_auto: true });
  });
});

describe('POST /api/config/preflight', () => {
  it('passes a good config and counts its steps', async () => {
    const { status, body } = await request('/api/config/preflight', { body: { config: GOOD } });
    expect(status).toBe(200);
    const report = as(preflightReportSchema, body);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.estimate.steps).toBe(40);
    expect(report.estimate.device).toMatch(/^unknown \(the engine is not set up/);
  });

  it('answers a broken config with 200 and its problems: missing folder, LoRA base, bad rate, unknown key, auto', async () => {
    const config = {
      train_data_dir: 'datasets/missing',
      base_model: 'models/style.safetensors',
      learning_rate: -1,
      lora_rnak: 4,
      lora_rank: 'auto',
    };
    const { status, body } = await request('/api/config/preflight', { body: { config } });
    expect(status).toBe(200);
    const report = as(preflightReportSchema, body);
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => [p.field, p.code, p.blocking])).toEqual([
      ['learning_rate', 'invalid_value', true],
      ['lora_rnak', 'unknown_key', true],
      ['train_data_dir', 'path_missing', true],
      ['base_model', 'base_model_is_lora', true],
      ['lora_rank', 'auto_unresolved', false],
    ]);
  });

  it('refuses a body that is not an object, or a config that is not one, with 400', async () => {
    for (const raw of [
      '[1, 2]',
      '"config"',
      'null',
      '{"config": [1]}',
      '{"config": "x"}',
      '{}',
      '{"config": {}, "x": 1}',
    ]) {
      const { status, body } = await request('/api/config/preflight', { raw });
      expect(status, raw).toBe(400);
      expect(as(errorBodySchema, body).error.code).toBe('invalid_request');
    }
    const broken = await request('/api/config/preflight', { raw: '{"config": {' });
    expect(broken.status).toBe(400);
    as(errorBodySchema, broken.body);
  });
});

describe('POST /api/config/yaml and /api/config/parse', () => {
  it('exports YAML that `train --config` reads as the same config, and imports it back', async () => {
    const config = { ...GOOD, lora_rank: 8, target_modules: ['q_proj', 'v_proj'], learning_rate: 2e-4 };
    const exported = await request('/api/config/yaml', { body: { config } });
    expect(exported.status).toBe(200);
    const { yaml } = as(configYamlSchema, exported.body);
    expect(yaml).toContain('# -- lora');
    expect(validateConfig({ file: 'x.yaml', text: yaml })).toEqual(
      validateConfig({ file: 'x.json', text: JSON.stringify(config) }),
    );
    const imported = await request('/api/config/parse', { body: { yaml } });
    expect(imported.status).toBe(200);
    expect(as(parsedConfigSchema, imported.body)).toEqual({ config });
  });

  it('refuses to export an unknown key, naming it in `field`', async () => {
    const { status, body } = await request('/api/config/yaml', { body: { config: { ...GOOD, lora_rnak: 8 } } });
    expect(status).toBe(400);
    expect(as(errorBodySchema, body).error).toMatchObject({ code: 'unknown_key', field: 'lora_rnak' });
  });

  it('names the bad line and key of an import', async () => {
    const { status, body } = await request('/api/config/parse', {
      body: { yaml: 'train_data_dir: datasets/demo\nlearning_rate: -1\n' },
    });
    expect(status).toBe(400);
    const { error } = as(errorBodySchema, body);
    expect(error).toMatchObject({ code: 'invalid_value', field: 'learning_rate' });
    expect(error.message).toMatch(/^line 2: `learning_rate`/);
    const syntax = await request('/api/config/parse', { body: { yaml: 'a: [1,\n' } });
    expect(syntax.status).toBe(400);
    expect(as(errorBodySchema, syntax.body).error).toMatchObject({ code: 'yaml_syntax', field: 'yaml' });
    const notText = await request('/api/config/parse', { body: { yaml: 5 } });
    expect(notText.status).toBe(400);
    expect(as(errorBodySchema, notText.body).error.field).toBe('yaml');
  });
});

describe('the OpenAPI document', () => {
  it('lists the config routes with their schemas', async () => {
    const { body } = await request(OPENAPI_PATH);
    const document = as(openApiDocumentSchema, body);
    for (const path of ['/api/config/schema', '/api/config/preflight', '/api/config/yaml', '/api/config/parse']) {
      expect(document.paths, path).toHaveProperty([path]);
    }
    const text = JSON.stringify(document);
    for (const id of ['ConfigField', 'PreflightReport', 'ConfigProblem', 'ConfigYaml']) expect(text).toContain(id);
  });
});

// The LoRA routes through app.request(), on LoRAs a real short training wrote and on the shipped fixtures: list,
// inspect, download in both formats (read back with the project's reader), keep, and every refusal as a 4xx.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { type LoraModule, parseSafetensors, readLoraModules, serializeSafetensors } from '../../lora/index.js';
import { type Job, type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, OPENAPI_PATH, type StudioApp } from '../app.js';
import { inspectReportSchema, keptLoraSchema, loraListSchema } from '../loras/index.js';
import { startJobRunner, trainExecutor } from '../runner/index.js';
import { errorBodySchema, openApiDocumentSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../../testing/demo-workspace.js';

const PORT = 6008;
const HOST = `127.0.0.1:${PORT}`;
const FIXTURES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora');
// One torch thread, as the busy test machine runs faster that way (train-executor.test.ts).
const ENV = ENGINE_TEST_ENV;
const WAIT_MS = 170_000;
// Three steps with a save at every step: intermediates at steps 1 and 2, the final LoRA at step 3.
const TINY_RUN = {
  train_data_dir: 'data/demo',
  base_model: 'models/demo-sd1.safetensors',
  output_dir: 'output/demo',
  resolution: 64,
  lora_rank: 4,
  batch_size: 2,
  max_train_steps: 3,
  save_steps: 1,
  seed: 1,
};
const TRAINED = {
  kohya: 'output/demo/demo.safetensors',
  diffusers: 'output/demo/pytorch_lora_weights.safetensors',
  step1: 'output/demo/demo-step00000001.safetensors',
  step2: 'output/demo/demo-step00000002.safetensors',
};

let dir: string;
let workspace: string;
let store: JobStore;
let app: StudioApp;
let trained: Job;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-routes-'));
  workspace = await makeDemoWorkspace({ at: join(dir, 'workspace') });
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
  trained = await train();
  placeFixtures();
  app = createApp({ store, workspace, policy: accessPolicy({ host: '127.0.0.1', port: PORT }), version: '9.9.9' });
}, 200_000);

afterAll(async () => {
  await store?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function train(): Promise<Job> {
  const queued = await store.createJob({ kind: 'train', device: 'default', config: TINY_RUN });
  const runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env: ENV }) });
  try {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const job = await store.getJob(queued.id);
      if (job && !['queued', 'running'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`the training is still ${job?.status} after ${WAIT_MS} ms`);
      await new Promise((done) => setTimeout(done, 100));
    }
  } finally {
    await runner.stop();
  }
}

/** LoRAs that must be listed, and files that must not: a base model, a dataset's, a hidden one, one outside. */
function placeFixtures(): void {
  const place = (fixture: string, path: string) => {
    mkdirSync(join(workspace, path, '..'), { recursive: true });
    copyFileSync(join(FIXTURES, fixture), join(workspace, path));
  };
  place('kohya-sd1-tiny.safetensors', 'loras/kohya-sd1-tiny.safetensors');
  place('kohya-sd1-tiny.safetensors', 'loras/江南 (v2).safetensors');
  place('peft-sd1-tiny.safetensors', 'loras/peft-sd1-tiny.safetensors');
  place('python-written.safetensors', 'loras/not-a-lora.safetensors');
  writeFileSync(join(workspace, 'loras', 'loha.safetensors'), lohaFile());
  writeFileSync(join(workspace, 'loras', 'broken.safetensors'), 'not a safetensors file at all');
  place('kohya-sd1-tiny.safetensors', 'datasets/cats/stray.safetensors');
  place('kohya-sd1-tiny.safetensors', '.hidden/hidden.safetensors');
  symlinkSync(join(workspace, 'loras', 'kohya-sd1-tiny.safetensors'), join(workspace, 'loras', 'link-in.safetensors'));
  mkdirSync(join(dir, 'outside'));
  copyFileSync(join(FIXTURES, 'kohya-sd1-tiny.safetensors'), join(dir, 'outside', 'secret.safetensors'));
  symlinkSync(join(dir, 'outside'), join(workspace, 'loras', 'outside'));
  symlinkSync(join(dir, 'outside', 'secret.safetensors'), join(workspace, 'loras', 'secret-link.safetensors'));
}

/** A LyCORIS LoHa in kohya names: a LoRA the studio lists, which has no diffusers form to convert to. */
function lohaFile(): Buffer {
  const stem = 'lora_unet_down_blocks_0_attentions_0_proj_in';
  const weight = (shape: number[]) => ({
    dtype: 'F32' as const,
    shape,
    data: new Uint8Array(4 * shape.reduce((a, b) => a * b, 1)),
  });
  const tensors = new Map([
    [`${stem}.hada_w1_a`, weight([8, 2])],
    [`${stem}.hada_w1_b`, weight([2, 8])],
    [`${stem}.hada_w2_a`, weight([8, 2])],
    [`${stem}.hada_w2_b`, weight([2, 8])],
    [`${stem}.alpha`, weight([])],
  ]);
  return serializeSafetensors({ metadata: { ss_network_module: 'lycoris.kohya' }, tensors });
}

async function get(path: string) {
  return app.request(`http://${HOST}${path}`, { headers: { host: HOST } });
}

async function getJson(path: string) {
  const response = await get(path);
  return { status: response.status, body: (await response.json()) as unknown };
}

async function post(path: string, body: unknown) {
  const response = await app.request(`http://${HOST}${path}`, {
    method: 'POST',
    headers: { host: HOST, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

/** The body, parsed by the schema the route declares (throws, failing the test, when it does not match). */
const as = <T extends z.ZodType>(schema: T, body: unknown): z.infer<T> => schema.parse(body);
const errorOf = (body: unknown) => as(errorBodySchema, body).error;
const query = (path: string) => `path=${encodeURIComponent(path)}`;
const workspaceBytes = (path: string) => readFileSync(join(workspace, path));

/** Module path → its down and up weight bytes: what both key formats must hold identically. */
function weightsByModule(bytes: Buffer, fileName: string): Map<string, { down: string; up: string }> {
  const { modules } = readLoraModules(parseSafetensors(bytes, fileName), { fileName });
  const hex = (tensor: LoraModule['down']) => Buffer.from(tensor.data).toString('hex');
  return new Map(modules.map((m) => [`${m.component}.${m.path}`, { down: hex(m.down), up: hex(m.up) }]));
}

describe('the training the tests read', () => {
  it('is done, with its final and intermediate LoRAs among its outputs', () => {
    expect(trained.error).toBeNull();
    expect(trained.status).toBe('done');
    expect(trained.outputs).toEqual(expect.arrayContaining(Object.values(TRAINED)));
  });
});

describe('GET /api/loras', () => {
  it("lists every LoRA of the workspace with its facts and train job, and nothing that is not one or not the workspace's", async () => {
    const { status, body } = await getJson('/api/loras');
    expect(status).toBe(200);
    const { loras } = as(loraListSchema, body);
    const byPath = new Map(loras.map((lora) => [lora.path, lora]));
    expect([...byPath.keys()].sort()).toEqual(
      [
        ...Object.values(TRAINED),
        'output/demo/checkpoints/step-00000001/pytorch_lora_weights.safetensors',
        'output/demo/checkpoints/step-00000002/pytorch_lora_weights.safetensors',
        'loras/kohya-sd1-tiny.safetensors',
        'loras/link-in.safetensors',
        'loras/loha.safetensors',
        'loras/peft-sd1-tiny.safetensors',
        'loras/江南 (v2).safetensors',
      ].sort(),
    );
    expect(byPath.get(TRAINED.kohya)).toMatchObject({
      name: 'demo',
      bytes: workspaceBytes(TRAINED.kohya).length,
      format: 'kohya',
      family: 'sd1',
      rank: 4,
      steps: 3,
      base_model: 'demo-sd1.safetensors',
      job_id: trained.id,
    });
    expect(byPath.get(TRAINED.step1)).toMatchObject({ format: 'kohya', steps: 1, job_id: trained.id });
    expect(byPath.get(TRAINED.diffusers)).toMatchObject({ format: 'diffusers', rank: 4, job_id: trained.id });
    // The engine's per-save diffusers files are not outputs of the job.
    expect(byPath.get('output/demo/checkpoints/step-00000001/pytorch_lora_weights.safetensors')?.job_id).toBeNull();
    expect(byPath.get('loras/kohya-sd1-tiny.safetensors')).toMatchObject({
      format: 'kohya',
      family: 'sd1',
      rank: 4,
      job_id: null,
    });
    expect(byPath.get('loras/peft-sd1-tiny.safetensors')).toMatchObject({ format: 'diffusers', job_id: null });
    expect(byPath.get('loras/loha.safetensors')).toMatchObject({ format: 'kohya', rank: 2 });
    const times = loras.map((lora) => lora.modified_at);
    expect(times).toEqual([...times].sort().reverse());
  });
});

describe('GET /api/loras/inspect', () => {
  it('reports what `inspect --json` reports, naming the file by its workspace path', async () => {
    const { status, body } = await getJson(`/api/loras/inspect?${query(TRAINED.step2)}`);
    expect(status).toBe(200);
    const report = as(inspectReportSchema, body);
    expect(report).toMatchObject({
      file: TRAINED.step2,
      sizeBytes: workspaceBytes(TRAINED.step2).length,
      format: { name: 'kohya', variant: 'LoRA', isConvertible: true },
      family: { name: 'sd1' },
      ranks: [{ value: 4, count: report.layers.total }],
      training: { outputName: 'demo', steps: 2, maxSteps: 3, baseModel: { name: 'demo-sd1.safetensors' } },
      hashes: { storedModelHashMatches: true },
    });
    expect(JSON.stringify(report)).not.toContain(workspace);
  });

  it('refuses a file that is no LoRA, naming it', async () => {
    for (const path of ['models/demo-sd1.safetensors', 'loras/not-a-lora.safetensors']) {
      const { status, body } = await getJson(`/api/loras/inspect?${query(path)}`);
      expect(status).toBe(400);
      const error = errorOf(body);
      expect(error.code).toBe('not_a_lora');
      expect(error.message).toMatch(new RegExp(`^\`${path}\`: is not a LoRA the studio reads \\(`));
      expect(error.hint).toMatch(/GET \/api\/loras/);
    }
    const { body } = await getJson(`/api/loras/inspect?${query('models/demo-sd1.safetensors')}`);
    expect(errorOf(body).message).toContain('single-file model, not a LoRA');
  });

  it("refuses a file that is no safetensors file with the reader's error, in workspace terms", async () => {
    const { status, body } = await getJson(`/api/loras/inspect?${query('loras/broken.safetensors')}`);
    expect(status).toBe(400);
    const error = errorOf(body);
    expect(error.message).toMatch(/^loras\/broken\.safetensors: /);
    expect(JSON.stringify(error)).not.toContain(workspace);
  });
});

describe('GET /api/loras/download', () => {
  it('sends the file as it is, as an attachment named after it', async () => {
    const response = await get(`/api/loras/download?${query(TRAINED.kohya)}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="demo.safetensors"; filename*=UTF-8''demo.safetensors`,
    );
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(response.headers.get('content-length')).toBe(String(bytes.length));
    expect(bytes.equals(workspaceBytes(TRAINED.kohya))).toBe(true);
    // Asking for the format it already has changes nothing.
    const same = await get(`/api/loras/download?${query(TRAINED.kohya)}&format=kohya`);
    expect(Buffer.from(await same.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('converts kohya → diffusers with the same weights, and leaves no temp copy behind', async () => {
    const before = tempDownloads();
    const response = await get(`/api/loras/download?${query(TRAINED.kohya)}&format=diffusers`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="demo-diffusers.safetensors"; filename*=UTF-8''demo-diffusers.safetensors`,
    );
    const bytes = Buffer.from(await response.arrayBuffer());
    const converted = parseSafetensors(bytes, 'demo-diffusers.safetensors');
    expect([...converted.tensors.keys()].every((key) => key.startsWith('unet.'))).toBe(true);
    expect(converted.metadata.ss_steps).toBe('3');
    expect(weightsByModule(bytes, 'converted')).toEqual(weightsByModule(workspaceBytes(TRAINED.kohya), 'original'));
    expect(tempDownloads()).toEqual(before);
  });

  it("converts diffusers → kohya: the engine's final file becomes the same weights as the kohya file of the run", async () => {
    const response = await get(`/api/loras/download?${query(TRAINED.diffusers)}&format=kohya`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toContain(`filename="pytorch_lora_weights-kohya.safetensors"`);
    const bytes = Buffer.from(await response.arrayBuffer());
    const converted = parseSafetensors(bytes, 'kohya');
    expect([...converted.tensors.keys()].every((key) => key.startsWith('lora_unet_'))).toBe(true);
    expect(weightsByModule(bytes, 'converted')).toEqual(weightsByModule(workspaceBytes(TRAINED.kohya), 'original'));
  });

  it('names a non-ASCII file with RFC 5987 and an ASCII stand-in', async () => {
    const response = await get(`/api/loras/download?${query('loras/江南 (v2).safetensors')}&format=diffusers`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-disposition')).toBe(
      `attachment; filename="__ (v2)-diffusers.safetensors"; filename*=UTF-8''%E6%B1%9F%E5%8D%97%20%28v2%29-diffusers.safetensors`,
    );
    parseSafetensors(Buffer.from(await response.arrayBuffer()), '江南');
  });

  it('refuses a file that is no LoRA, naming it, a LoRA the other format cannot hold, and an unknown format', async () => {
    const notLora = await getJson(`/api/loras/download?${query('models/demo-sd1.safetensors')}&format=diffusers`);
    expect(notLora.status).toBe(400);
    expect(errorOf(notLora.body)).toMatchObject({ code: 'not_a_lora' });
    expect(errorOf(notLora.body).message).toMatch(/^`models\/demo-sd1\.safetensors`: /);
    const loha = await getJson(`/api/loras/download?${query('loras/loha.safetensors')}&format=diffusers`);
    expect(loha.status).toBe(400);
    expect(errorOf(loha.body)).toEqual({
      code: 'lora_not_convertible',
      message: '`loras/loha.safetensors`: is a LoHa LoRA, which the other key format cannot hold',
      hint: 'download it without `format`',
    });
    const badFormat = await getJson(`/api/loras/download?${query(TRAINED.kohya)}&format=webui`);
    expect(badFormat.status).toBe(400);
    expect(errorOf(badFormat.body)).toMatchObject({ code: 'invalid_request', field: 'format' });
  });
});

describe('paths the LoRA routes refuse', () => {
  const routes = ['/api/loras/inspect', '/api/loras/download'];

  it('refuses `..`, absolute paths and symlinks out of the workspace with a 4xx naming the path', async () => {
    const cases: Array<[path: string, status: number, code: string]> = [
      ['../outside/secret.safetensors', 400, 'path_unsafe'],
      ['loras/../../outside/secret.safetensors', 400, 'path_unsafe'],
      [join(dir, 'outside', 'secret.safetensors'), 400, 'path_unsafe'],
      ['loras/outside/secret.safetensors', 403, 'path_outside_workspace'],
      ['loras/secret-link.safetensors', 403, 'path_outside_workspace'],
    ];
    for (const route of routes) {
      for (const [path, status, code] of cases) {
        const response = await getJson(`${route}?${query(path)}`);
        expect(response.status, `${route} ${path}`).toBe(status);
        expect(errorOf(response.body).code, `${route} ${path}`).toBe(code);
      }
    }
  });

  it('answers 404 for a missing file, 400 for a folder or no path at all', async () => {
    for (const route of routes) {
      const missing = await getJson(`${route}?${query('loras/none.safetensors')}`);
      expect(missing.status).toBe(404);
      expect(errorOf(missing.body)).toMatchObject({
        code: 'lora_not_found',
        message: '`loras/none.safetensors`: no such file in the workspace',
      });
      const folder = await getJson(`${route}?${query('loras')}`);
      expect(folder.status).toBe(400);
      expect(errorOf(folder.body).code).toBe('not_a_lora');
      const none = await getJson(route);
      expect(none.status).toBe(400);
      expect(errorOf(none.body)).toMatchObject({ code: 'invalid_request', field: 'path' });
    }
  });
});

describe('POST /api/jobs/{id}/keep', () => {
  it('copies the LoRA of that step next to the final file, byte for byte, atomically', async () => {
    const { status, body } = await post(`/api/jobs/${trained.id}/keep`, { step: 1 });
    expect(status).toBe(200);
    const { path } = as(keptLoraSchema, body);
    expect(path).toBe('output/demo/demo-step1.safetensors');
    expect(workspaceBytes(path).equals(workspaceBytes(TRAINED.step1))).toBe(true);
    expect(readdirSync(join(workspace, 'output', 'demo')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    // Keeping it again rewrites the same copy; the intermediate itself is untouched.
    expect((await post(`/api/jobs/${trained.id}/keep`, { step: 1 })).body).toEqual({ path });
    const { loras } = as(loraListSchema, (await getJson('/api/loras')).body);
    expect(loras.find((lora) => lora.path === path)).toMatchObject({ format: 'kohya', steps: 1 });
  });

  it('refuses a step with no saved LoRA with 404 and the steps that have one', async () => {
    const { status, body } = await post(`/api/jobs/${trained.id}/keep`, { step: 3 });
    expect(status).toBe(404);
    expect(errorOf(body)).toEqual({
      code: 'step_not_saved',
      message: `job \`${trained.id}\`: saved no LoRA at step 3`,
      hint: 'it saved LoRAs at steps 1, 2; keep one of those',
    });
    expect(existsSync(join(workspace, 'output', 'demo', 'demo-step3.safetensors'))).toBe(false);
  });

  it('refuses a job that is not a train job (409) and one that does not exist (404)', async () => {
    const generate = await store.createJob({ kind: 'generate', device: 'default', config: {} });
    const other = await post(`/api/jobs/${generate.id}/keep`, { step: 1 });
    expect(other.status).toBe(409);
    expect(errorOf(other.body)).toMatchObject({ code: 'not_a_train_job' });
    const missing = await post('/api/jobs/no-such-job/keep', { step: 1 });
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).code).toBe('job_not_found');
  });

  it('refuses a bad body with 400 naming the field', async () => {
    for (const [body, field] of [
      [{ step: 0 }, 'step'],
      [{ step: 1.5 }, 'step'],
      [{ step: '1' }, 'step'],
      [{}, 'step'],
    ] as const) {
      const response = await post(`/api/jobs/${trained.id}/keep`, body);
      expect(response.status, JSON.stringify(body)).toBe(400);
      expect(errorOf(response.body)).toMatchObject({ code: 'invalid_request', field });
    }
    const extra = await post(`/api/jobs/${trained.id}/keep`, { step: 1, path: '/etc/passwd' });
    expect(extra.status).toBe(400);
    expect(errorOf(extra.body).code).toBe('invalid_request');
  });

  it('refuses a job whose saved LoRA was replaced by something that is no LoRA', async () => {
    // A device of its own, so that claiming it cannot take the queued jobs of the other tests.
    const job = await store.createJob({ kind: 'train', device: 'fake', config: {} });
    await store.claimNextQueued('fake');
    const fake = 'output/fake/fake-step00000004.safetensors';
    mkdirSync(join(workspace, 'output', 'fake'), { recursive: true });
    writeFileSync(join(workspace, fake), serializeSafetensors({ metadata: {}, tensors: new Map() }));
    await store.applyEvent(job.id, { type: 'finish', outputs: [fake] });
    const { status, body } = await post(`/api/jobs/${job.id}/keep`, { step: 4 });
    expect(status).toBe(400);
    expect(errorOf(body).code).toBe('not_a_lora');
    expect(existsSync(join(workspace, 'output', 'fake', 'fake-step4.safetensors'))).toBe(false);
  });
});

describe(`GET ${OPENAPI_PATH}`, () => {
  it('documents the LoRA routes with the schemas their responses were parsed with above', async () => {
    const document = as(openApiDocumentSchema, (await getJson(OPENAPI_PATH)).body);
    type Operation = { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }> };
    const operation = (path: string, method: string) => (document.paths[path] as Record<string, Operation>)[method];
    const ok = (path: string, method: string, type = 'application/json') =>
      operation(path, method)?.responses['200']?.content?.[type]?.schema;
    expect(ok('/api/loras', 'get')?.$ref).toBe('#/components/schemas/LoraList');
    expect(ok('/api/loras/inspect', 'get')?.$ref).toBe('#/components/schemas/LoraInspectReport');
    expect(ok('/api/loras/download', 'get', 'application/octet-stream')).toMatchObject({ format: 'binary' });
    expect(ok('/api/jobs/{id}/keep', 'post')?.$ref).toBe('#/components/schemas/KeptLora');
    expect(Object.keys(operation('/api/jobs/{id}/keep', 'post')?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '404', '409']),
    );
  });
});

/** The temp folders downloads convert into (lora-download.ts): each is gone once its response is read. */
function tempDownloads(): string[] {
  return readdirSync(tmpdir()).filter((name) => name.startsWith('lora-download-'));
}

// POST /api/covers through app.request(): a real store and style library on a temp workspace, the render worker
// replaced by a fake that paints PNGs and records its calls; every body parsed by the schema the route declares.
import { mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PARAMETERS_KEY, withPngText } from '../../generate/index.js';
import { openSqliteLibrary } from '../../library/index.js';
import type { RenderRequest, RenderWorker } from '../../render-worker/index.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, OPENAPI_PATH, STORE_FILE, type StudioApp } from '../app.js';
import { errorBodySchema, openApiDocumentSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import { coversResponseSchema } from './covers.js';

const calls: RenderRequest[] = [];
const fakeWorker: RenderWorker = {
  async render(request) {
    calls.push(request);
    return Promise.all(
      request.seeds.map(async (seed) => {
        const size = { width: request.width, height: request.height };
        const png = await sharp({ create: { ...size, channels: 3, background: { r: 200, g: 180, b: 150 } } })
          .png()
          .toBuffer();
        const infotext = `${request.prompt}\nSteps: ${request.steps}, Seed: ${seed}`;
        return { png: withPngText(png, PARAMETERS_KEY, infotext, 'fake'), seed, infotext };
      }),
    );
  },
  stats: () => ({ base_loads: 1, lora_loads: 1, renders: calls.length }),
  close: async () => {},
};

vi.mock('../render-pool.js', () => ({ sharedRenderWorker: () => fakeWorker }));

const PORT = 6008;
const HOST = `127.0.0.1:${PORT}`;
const LORA = join(import.meta.dirname, '../../../tests/fixtures/lora/kohya-sd1-tiny.safetensors');

let dir: string;
let store: JobStore;
let app: StudioApp;

beforeEach(async () => {
  dir = realpathSync(mkdtempSync(join(tmpdir(), 'lora-covers-api-')));
  store = openSqliteStore(join(dir, ...STORE_FILE));
  app = createApp({ store, workspace: dir, policy: accessPolicy({ host: '127.0.0.1', port: PORT }), version: '9.9.9' });
  calls.length = 0;
  const library = openSqliteLibrary(join(dir, ...STORE_FILE), { workspace: dir });
  await library.addVersion({
    style: 'jiangnan_style',
    file: LORA,
    strength: 0.7,
    base_model: 'models/demo-sd1.safetensors',
    trigger_words: ['jiangnan style'],
    prompt_template: '{title}, {prompt}, water town, {trigger_words}',
  });
  await library.changeStatus('jiangnan_style', 1, 'promote');
  await library.setRegion({ level: 'province', place: '浙江', style: 'jiangnan_style' });
  await library.close();
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post(body: unknown) {
  const response = await app.request(`http://${HOST}/api/covers`, {
    method: 'POST',
    headers: { host: HOST, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as unknown };
}

describe('POST /api/covers', () => {
  it("makes covers in the place's mapped style, at its strength, titled, and reads the same request from the cache", async () => {
    const request = { city: '杭州', province: '浙江', title: '江南水乡 · 雨中游', n: 2, seed: 11, size: '128x128' };
    const first = await post(request);
    expect(first.status).toBe(200);
    const covers = coversResponseSchema.parse(first.body);
    expect(covers).toMatchObject({ style: 'jiangnan_style', version: 1, matched: 'province', cached: false });
    expect(covers.prompt).toBe('江南水乡 · 雨中游, water town, jiangnan style');
    expect(covers.covers.map((c) => c.seed)).toEqual([11, 12]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.loras).toEqual([
      { path: expect.stringMatching(/^.*\/library\/.*\.safetensors$/), weight: 0.7, name: 'jiangnan_style' },
    ]);

    // The files are in the workspace, and served by the files route under the URL given.
    const cover = covers.covers[0]!;
    expect(readFileSync(join(dir, cover.path)).subarray(1, 4).toString()).toBe('PNG');
    const served = await app.request(`http://${HOST}${cover.url}`, { headers: { host: HOST } });
    expect(served.status).toBe(200);

    const second = coversResponseSchema.parse((await post(request)).body);
    expect(second).toEqual({ ...covers, cached: true });
    expect(calls).toHaveLength(1);
  });

  it('answers 404 for a place with no mapping, naming it and saying to add a region mapping', async () => {
    const { status, body } = await post({ city: '成都', title: '火锅之夜' });
    expect(status).toBe(404);
    const { error } = errorBodySchema.parse(body);
    expect(error.code).toBe('place_not_mapped');
    expect(error.message).toContain('成都');
    expect(error.hint).toContain('region mapping');
    expect(calls).toHaveLength(0);
  });

  it('answers 400 naming the field for bad input', async () => {
    const cases: [unknown, string][] = [
      [{ title: '雨中江南' }, 'region'],
      [{ city: '杭州', title: '' }, 'title'],
      [{ city: '杭州', title: 'x', n: 0 }, 'n'],
      [{ city: '杭州', title: 'x', size: '100x100' }, 'size'],
      [{ city: '杭州', title: 'x', seed: -1 }, 'seed'],
      [{ city: '杭州', title: 'x', alwayson_scripts: {} }, ''],
    ];
    for (const [body, field] of cases) {
      const answer = await post(body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      const { error } = errorBodySchema.parse(answer.body);
      if (field !== '') expect(error.field).toBe(field);
    }
    const emoji = await post({ province: '浙江', title: '下雨 🌧', size: '128x128' });
    expect(emoji.status).toBe(400);
    expect(errorBodySchema.parse(emoji.body).error.code).toBe('title_glyph_missing');
    expect(calls).toHaveLength(0);
  });

  it('is in the OpenAPI document with its request and response schemas', async () => {
    const response = await app.request(`http://${HOST}${OPENAPI_PATH}`, { headers: { host: HOST } });
    const document = openApiDocumentSchema.parse(await response.json());
    const route = (document.paths['/api/covers'] as { post: { responses: Record<string, unknown> } }).post;
    expect(Object.keys(route.responses)).toEqual(expect.arrayContaining(['200', '400', '404']));
    expect(JSON.stringify(document)).toContain('"CoverRequest"');
  });
});

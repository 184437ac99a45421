// The datasets routes through app.request(): real uploads (multipart and zip) into a real workspace, real sharp
// pictures, a real prepare report on a real SQLite store; every body checked against the schema its route declares.
import {
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
import { OpenAPIHono } from '@hono/zod-openapi';
import { type Zippable, zipSync } from 'fflate';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { DEFAULT_THRESHOLDS, prepareDataset } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, type StudioApp } from '../app.js';
import {
  captionLintSchema,
  captionSavedSchema,
  datasetDetailSchema,
  datasetListSchema,
  datasetReportSchema,
  datasetSummarySchema,
  replaceResultSchema,
  uploadResultSchema,
} from '../datasets/index.js';
import { errorToHttp } from '../http-errors.js';
import { errorBodySchema, openApiDocumentSchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import { datasetRoutes } from './datasets.js';

const PORT = 6008;
const HOST = `127.0.0.1:${PORT}`;

let dir: string;
let workspace: string;
let outside: string;
let store: JobStore;
let app: StudioApp;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-datasets-'));
  workspace = join(dir, 'workspace');
  outside = join(dir, 'outside');
  mkdirSync(workspace);
  mkdirSync(outside);
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
  app = createApp({ store, workspace, policy: accessPolicy({ host: '127.0.0.1', port: PORT }), version: '9.9.9' });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

interface Target {
  request: StudioApp['request'];
}

async function send(path: string, init: RequestInit = {}, target: Target = app) {
  const headers = new Headers(init.headers);
  headers.set('host', HOST);
  const response = await target.request(`http://${HOST}${path}`, { ...init, headers });
  return { status: response.status, body: (await response.json()) as unknown };
}

const get = (path: string) => send(path);
const sendJson = (method: string, path: string, body: unknown) =>
  send(path, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const postJson = (path: string, body: unknown) => sendJson('POST', path, body);
const putJson = (path: string, body: unknown) => sendJson('PUT', path, body);

function form(files: Record<string, Uint8Array | string>, field = 'files'): FormData {
  const data = new FormData();
  for (const [name, content] of Object.entries(files)) data.append(field, new Blob([content as BlobPart]), name);
  return data;
}

const uploadForm = (name: string, data: FormData, target: Target = app) =>
  send(`/api/datasets/${name}/upload`, { method: 'POST', body: data }, target);
const uploadZip = (name: string, zip: Uint8Array, target: Target = app) =>
  send(
    `/api/datasets/${name}/upload`,
    { method: 'POST', headers: { 'content-type': 'application/zip' }, body: zip as BodyInit },
    target,
  );

/** The body, parsed by the schema its route declares (throws, failing the test, when it does not match). */
function as<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  return schema.parse(body);
}
const errorOf = (body: unknown) => as(errorBodySchema, body).error;

/** A sharp, distinct picture: Gaussian noise, so the quality rules pass it and no two are near-duplicates. */
async function noisePng(width: number, height: number, seedShift = 0): Promise<Uint8Array> {
  const png = await sharp({
    create: {
      width,
      height,
      channels: 3,
      background: '#808080',
      noise: { type: 'gaussian', mean: 128 + seedShift, sigma: 60 },
    },
  })
    .png()
    .toBuffer();
  return new Uint8Array(png);
}

async function makeDataset(name: string) {
  const { status, body } = await postJson('/api/datasets', { name });
  expect(status).toBe(201);
  return as(datasetSummarySchema, body);
}

const datasetDir = (name: string) => join(workspace, 'datasets', name);

describe('GET and POST /api/datasets', () => {
  it('lists nothing in a new workspace, then the dataset made, with its counts', async () => {
    expect(as(datasetListSchema, (await get('/api/datasets')).body)).toEqual({ datasets: [] });
    const made = await makeDataset('jiangnan_style');
    expect(made).toMatchObject({ name: 'jiangnan_style', path: 'datasets/jiangnan_style', images: 0, captioned: 0 });
    expect(made.trigger_word).toBeNull();
    expect(existsSync(datasetDir('jiangnan_style'))).toBe(true);
    await makeDataset('江南-2');
    const { status, body } = await get('/api/datasets');
    expect(status).toBe(200);
    expect(
      as(datasetListSchema, body)
        .datasets.map((d) => d.name)
        .sort(),
    ).toEqual(['jiangnan_style', '江南-2'].sort());
    const cjk = await get(`/api/datasets/${encodeURIComponent('江南-2')}`);
    expect(cjk.status).toBe(200);
    expect(as(datasetDetailSchema, cjk.body)).toEqual({
      name: '江南-2',
      path: 'datasets/江南-2',
      trigger_word: null,
      images: [],
    });
  });

  it('refuses a second dataset of the same name with 409', async () => {
    await makeDataset('cats');
    const { status, body } = await postJson('/api/datasets', { name: 'cats' });
    expect(status).toBe(409);
    expect(errorOf(body)).toMatchObject({ code: 'dataset_exists', field: 'name' });
  });

  it.each(['../evil', 'a/b', '', 'with space', 'x'.repeat(65), '.hidden'])(
    'refuses the name %j with 400 naming `name`',
    async (name) => {
      const { status, body } = await postJson('/api/datasets', { name });
      expect(status).toBe(400);
      expect(errorOf(body).field).toBe('name');
      expect(existsSync(join(workspace, 'datasets', 'evil'))).toBe(false);
    },
  );

  it('refuses unknown keys with 400 naming them', async () => {
    const { status, body } = await postJson('/api/datasets', { name: 'cats', colour: 'red' });
    expect(status).toBe(400);
    expect(errorOf(body).message).toContain('colour');
  });

  it('leaves out a dataset folder that is a symlink out of the workspace, and refuses to open it with 403', async () => {
    await makeDataset('cats');
    symlinkSync(outside, datasetDir('evil'));
    writeFileSync(join(outside, 'secret.png'), await noisePng(8, 8));
    expect(as(datasetListSchema, (await get('/api/datasets')).body).datasets.map((d) => d.name)).toEqual(['cats']);
    const { status, body } = await get('/api/datasets/evil');
    expect(status).toBe(403);
    expect(errorOf(body).code).toBe('path_outside_workspace');
  });

  it('answers 404 for a dataset that does not exist, and 400 for a bad name in the path', async () => {
    const missing = await get('/api/datasets/nope');
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body)).toMatchObject({ code: 'dataset_not_found' });
    const bad = await get('/api/datasets/a%20b');
    expect(bad.status).toBe(400);
    expect(errorOf(bad.body).field).toBe('name');
  });
});

describe('POST /api/datasets/{name}/upload (multipart)', () => {
  it('keeps pictures and captions at their sub-paths, unchanged, and skips the rest with a reason', async () => {
    await makeDataset('cats');
    const picture = await noisePng(64, 48);
    const nested = await noisePng(32, 32, 5);
    const { status, body } = await uploadForm(
      'cats',
      form({
        'cat.png': picture,
        'cat.txt': 'a grey cat on a wall, garden scene, morning light',
        'folder/sub/kitten.png': nested,
        'notes.rtf': '# notes',
        '.DS_Store': 'x',
        'broken.png': 'not a picture at all',
        'metadata.csv': 'file_name,caption\n',
      }),
    );
    expect(status).toBe(200);
    const result = as(uploadResultSchema, body);
    expect(result.added).toEqual(['cat.png', 'cat.txt', 'folder/sub/kitten.png']);
    expect(result.skipped.map((s) => s.file)).toEqual(['notes.rtf', '.DS_Store', 'broken.png', 'metadata.csv']);
    expect(result.skipped[0]!.reason).toContain('not a picture');
    expect(result.skipped[1]!.reason).toContain('hidden');
    expect(result.skipped[2]!.reason).toContain('cannot be read as a picture');
    expect(result.dataset).toMatchObject({ name: 'cats', images: 2, captioned: 1 });
    // The originals, byte for byte.
    expect(new Uint8Array(readFileSync(join(datasetDir('cats'), 'cat.png')))).toEqual(picture);
    expect(new Uint8Array(readFileSync(join(datasetDir('cats'), 'folder/sub/kitten.png')))).toEqual(nested);
    expect(existsSync(join(datasetDir('cats'), 'notes.rtf'))).toBe(false);
    // No staging folder is left behind.
    expect(readdirNames(datasetDir('cats'))).toEqual(['cat.png', 'cat.txt', 'folder']);
  });

  it('never replaces a file the dataset has: a second upload of it is skipped', async () => {
    await makeDataset('cats');
    const first = await noisePng(16, 16);
    await uploadForm('cats', form({ 'cat.png': first }));
    const { body } = await uploadForm('cats', form({ 'cat.png': await noisePng(16, 16, 9) }));
    const result = as(uploadResultSchema, body);
    expect(result.added).toEqual([]);
    expect(result.skipped[0]).toMatchObject({ file: 'cat.png' });
    expect(result.skipped[0]!.reason).toContain('already has');
    expect(new Uint8Array(readFileSync(join(datasetDir('cats'), 'cat.png')))).toEqual(first);
  });

  it('gives a name to one of two uploads sent at once, never replacing what the first wrote', async () => {
    await makeDataset('cats');
    const pictures = [await noisePng(16, 16, 1), await noisePng(16, 16, 2)];
    const results = await Promise.all(pictures.map((picture) => uploadForm('cats', form({ 'cat.png': picture }))));
    const uploads = results.map((result) => as(uploadResultSchema, result.body));
    expect(uploads.map((upload) => upload.added.length).sort()).toEqual([0, 1]);
    const winner = uploads.findIndex((upload) => upload.added.length === 1);
    expect(new Uint8Array(readFileSync(join(datasetDir('cats'), 'cat.png')))).toEqual(pictures[winner]);
    expect(uploads[1 - winner]!.skipped[0]!.reason).toContain('already has');
  });

  it.each([
    ['../evil.png', 'upload_path_unsafe'],
    ['/etc/evil.png', 'upload_path_unsafe'],
    ['a/../../evil.png', 'upload_path_unsafe'],
    ['C:/evil.png', 'upload_path_unsafe'],
    ['a\\evil.png', 'upload_path_unsafe'],
  ])('refuses the file name %j with 400 naming it, and writes nothing', async (name, code) => {
    await makeDataset('cats');
    const { status, body } = await uploadForm('cats', form({ 'good.png': await noisePng(8, 8), [name]: 'x' }));
    expect(status).toBe(400);
    expect(errorOf(body)).toMatchObject({ code, field: 'files' });
    expect(errorOf(body).message).toContain(JSON.stringify(name));
    expect(readdirNames(datasetDir('cats'))).toEqual([]);
    expect(existsSync(join(workspace, 'datasets', 'evil.png'))).toBe(false);
  });

  it('refuses a part that is not `files`, naming it', async () => {
    await makeDataset('cats');
    const { status, body } = await uploadForm('cats', form({ 'a.png': 'x' }, 'pictures'));
    expect(status).toBe(400);
    expect(errorOf(body).message).toContain('pictures');
  });

  it('refuses a form with no file, and a `files` part that is not a file, with 400 naming `files`', async () => {
    await makeDataset('cats');
    const empty = await uploadForm('cats', new FormData());
    expect(empty.status).toBe(400);
    expect(errorOf(empty.body)).toMatchObject({ code: 'upload_empty', field: 'files' });
    const text = new FormData();
    text.append('files', 'just text');
    const notFile = await uploadForm('cats', text);
    expect(notFile.status).toBe(400);
    expect(errorOf(notFile.body).field).toBe('files');
  });

  it('refuses a body that is neither a form nor a zip with 415', async () => {
    await makeDataset('cats');
    const { status } = await send('/api/datasets/cats/upload', {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: (await noisePng(8, 8)) as BodyInit,
    });
    expect(status).toBe(415);
  });

  it('answers 404 for an upload to a dataset that does not exist', async () => {
    const { status, body } = await uploadForm('nope', form({ 'a.png': await noisePng(8, 8) }));
    expect(status).toBe(404);
    expect(errorOf(body).code).toBe('dataset_not_found');
  });

  it('refuses a body over the upload limit with 413 before reading it', async () => {
    await makeDataset('cats');
    const { status, body } = await send('/api/datasets/cats/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/zip', 'content-length': String(5 * 1024 ** 3) },
      body: 'PK',
    });
    expect(status).toBe(413);
    expect(errorOf(body).code).toBe('upload_too_large');
  });

  it('refuses a subfolder that is a symlink out of the workspace with 403, writing nothing outside', async () => {
    await makeDataset('cats');
    symlinkSync(outside, join(datasetDir('cats'), 'linked'));
    const { status, body } = await uploadForm('cats', form({ 'linked/evil.png': await noisePng(8, 8) }));
    expect(status).toBe(403);
    expect(errorOf(body).code).toBe('path_outside_workspace');
    expect(errorOf(body).message).toContain('linked/evil.png');
    expect(readdirNames(outside)).toEqual([]);
  });
});

describe('upload limits (a router with small limits, as the app mounts it)', () => {
  const limits = { maxFiles: 3, maxFileBytes: 2000, maxTotalBytes: 5000 };
  let small: OpenAPIHono;
  beforeEach(() => {
    small = new OpenAPIHono();
    small.route('/', datasetRoutes({ store, workspace, env: {}, onJobQueued: () => {} }, { uploadLimits: limits }));
    small.onError((error, c) => {
      const { status, body } = errorToHttp(error);
      return c.json(body, status);
    });
    mkdirSync(datasetDir('cats'), { recursive: true });
  });

  it('refuses a file over the per-file limit with 413 naming it', async () => {
    const { status, body } = await uploadForm('cats', form({ 'a.txt': 'ok', 'big.png': new Uint8Array(2001) }), small);
    expect(status).toBe(413);
    expect(errorOf(body)).toMatchObject({ code: 'upload_file_too_large', field: 'files' });
    expect(errorOf(body).message).toContain('big.png');
    expect(readdirNames(datasetDir('cats'))).toEqual([]);
  });

  it('refuses more files than allowed with 413', async () => {
    const { status, body } = await uploadForm(
      'cats',
      form({ '1.txt': 'a', '2.txt': 'b', '3.txt': 'c', '4.txt': 'd' }),
      small,
    );
    expect(status).toBe(413);
    expect(errorOf(body).code).toBe('upload_too_many_files');
  });

  it('refuses files that add up past the total with 413 naming the one that crosses it', async () => {
    const files = { '1.txt': 'a'.repeat(1900), '2.txt': 'b'.repeat(1900), '3.txt': 'c'.repeat(1900) };
    const { status, body } = await uploadForm('cats', form(files), small);
    expect(status).toBe(413);
    expect(errorOf(body)).toMatchObject({ code: 'upload_too_large' });
    expect(errorOf(body).message).toContain('3.txt');
  });

  it('refuses a zip entry over the per-file limit with 413 before writing', async () => {
    const zip = zipSync({ 'big.txt': new Uint8Array(3000), 'a.txt': new Uint8Array(10) });
    const { status, body } = await uploadZip('cats', zip, small);
    expect(status).toBe(413);
    expect(errorOf(body).code).toBe('zip_file_too_large');
    expect(errorOf(body).message).toContain('big.txt');
    expect(readdirNames(datasetDir('cats'))).toEqual([]);
  });

  it('refuses a body past the limit as it streams in, with 413', async () => {
    const { status, body } = await uploadZip('cats', new Uint8Array(2 * 1024 * 1024), small);
    expect(status).toBe(413);
    expect(errorOf(body).code).toBe('upload_too_large');
  });
});

describe('POST /api/datasets/{name}/upload (zip)', () => {
  it('unpacks pictures and captions at their paths, skipping folders and other files', async () => {
    await makeDataset('town');
    const bridge = await noisePng(40, 30);
    const zip = zipSync({
      town: {},
      'town/bridge.png': [bridge, { level: 0 }],
      'town/bridge.txt': new TextEncoder().encode('a stone bridge over a canal, town scene, jiangnan style'),
      'town/10_repeat/canal.png': await noisePng(30, 40, 3),
      '__MACOSX/town/._bridge.png': new Uint8Array(4),
      'readme.pdf': new Uint8Array(10),
    } satisfies Zippable);
    const { status, body } = await uploadZip('town', zip);
    expect(status).toBe(200);
    const result = as(uploadResultSchema, body);
    expect(result.added).toEqual(['town/bridge.png', 'town/bridge.txt', 'town/10_repeat/canal.png']);
    expect(result.skipped.map((s) => s.file)).toEqual(['__MACOSX/town/._bridge.png', 'readme.pdf']);
    expect(new Uint8Array(readFileSync(join(datasetDir('town'), 'town/bridge.png')))).toEqual(bridge);
    expect(result.dataset).toMatchObject({ images: 2, captioned: 1 });
  });

  it.each([
    ['../evil.png', 'has a `..` segment'],
    ['/abs/evil.png', 'is absolute'],
    ['ok/../../evil.png', 'has a `..` segment'],
  ])('refuses the entry %j with 400 naming it, and writes nothing', async (entry, why) => {
    await makeDataset('town');
    const zip = zipSync({ 'good.png': await noisePng(8, 8), [entry]: await noisePng(8, 8) });
    const { status, body } = await uploadZip('town', zip);
    expect(status).toBe(400);
    expect(errorOf(body).code).toBe('zip_entry_unsafe');
    expect(errorOf(body).message).toContain(entry);
    expect(errorOf(body).message).toContain(why);
    expect(readdirNames(datasetDir('town'))).toEqual([]);
    expect(existsSync(join(workspace, 'datasets', 'evil.png'))).toBe(false);
  });

  it('refuses a symlink entry with 400', async () => {
    await makeDataset('town');
    const zip = zipSync({
      'link.png': [new TextEncoder().encode('/etc/passwd'), { os: 3, attrs: (0o120777 << 16) >>> 0 }],
    });
    const { status, body } = await uploadZip('town', zip);
    expect(status).toBe(400);
    expect(errorOf(body).message).toContain('symlink');
  });

  it('refuses a zip of more entries than the server takes with 413', async () => {
    await makeDataset('town');
    const entries: Zippable = {};
    for (let i = 0; i <= 20_000; i += 1) entries[`f${i}.txt`] = new Uint8Array(0);
    const { status, body } = await uploadZip('town', zipSync(entries, { level: 0 }));
    expect(status).toBe(413);
    expect(errorOf(body).code).toBe('zip_too_many_files');
  });

  it('stops an entry that inflates past the size it claims, and writes nothing', async () => {
    await makeDataset('town');
    const zip = zipSync({ 'a.txt': new TextEncoder().encode('first caption'), 'bomb.txt': new Uint8Array(100_000) });
    lieAboutSize(zip, 'bomb.txt', 10);
    const { status, body } = await uploadZip('town', zip);
    expect(status).toBe(400);
    expect(errorOf(body).code).toBe('zip_entry_damaged');
    expect(errorOf(body).message).toContain('bomb.txt');
    expect(readdirNames(datasetDir('town'))).toEqual([]);
  });

  it('refuses a body that is not a zip with 400', async () => {
    await makeDataset('town');
    const { status, body } = await uploadZip('town', new TextEncoder().encode('hello'));
    expect(status).toBe(400);
    expect(errorOf(body).code).toBe('zip_damaged');
  });
});

describe('GET /api/datasets/{name}', () => {
  it('lists each picture with its caption, size after EXIF orientation, and bytes', async () => {
    await makeDataset('cats');
    const upright = await noisePng(40, 20);
    const turned = new Uint8Array(
      await sharp(await noisePng(40, 20, 7))
        .jpeg()
        .withMetadata({ orientation: 6 })
        .toBuffer(),
    );
    await uploadForm('cats', form({ 'a.png': upright, 'a.txt': '  a cat  \n', 'b.jpg': turned }));
    const { status, body } = await get('/api/datasets/cats');
    expect(status).toBe(200);
    const detail = as(datasetDetailSchema, body);
    expect(detail).toMatchObject({ name: 'cats', path: 'datasets/cats', trigger_word: null });
    expect(detail.images).toEqual([
      { file: 'a.png', path: 'datasets/cats/a.png', caption: 'a cat', width: 40, height: 20, bytes: upright.length },
      { file: 'b.jpg', path: 'datasets/cats/b.jpg', caption: null, width: 20, height: 40, bytes: turned.length },
    ]);
  });
});

describe('captions: PUT captions, POST lint, POST replace, PUT settings', () => {
  beforeEach(async () => {
    await makeDataset('town');
    await uploadForm(
      'town',
      form({
        'a.png': await noisePng(16, 16, 1),
        'b.png': await noisePng(16, 16, 2),
        'c.png': await noisePng(16, 16, 3),
        'a.txt': 'a stone bridge, canal town scene, jiangnan style, misty morning',
        'b.txt': 'white houses by a canal, jiangnan style, beautiful evening',
      }),
    );
  });

  it('writes `<stem>.txt` beside the picture, trimmed, and returns its lint', async () => {
    const { status, body } = await putJson('/api/datasets/town/captions', {
      file: 'c.png',
      caption: ' a nice view \n',
    });
    expect(status).toBe(200);
    const saved = as(captionSavedSchema, body);
    expect(saved).toMatchObject({ file: 'c.png', caption: 'a nice view' });
    expect(readFileSync(join(datasetDir('town'), 'c.txt'), 'utf8')).toBe('a nice view');
    expect(saved.lint.findings.map((f) => f.rule)).toEqual(
      expect.arrayContaining(['vague-words', 'caption-structure']),
    );
    expect(saved.lint.findings.every((f) => f.severity === 'warning')).toBe(true);
    expect(saved.lint.tokens).toEqual({ count: 3, limit: 75 });
  });

  it('answers 404 naming `file` for a picture the dataset does not have', async () => {
    for (const file of ['nope.png', '../other/a.png', 'a.txt']) {
      const { status, body } = await putJson('/api/datasets/town/captions', { file, caption: 'x' });
      expect(status).toBe(404);
      expect(errorOf(body)).toMatchObject({ code: 'image_not_found', field: 'file' });
    }
  });

  it('refuses a caption file that is a symlink out of the workspace with 403, leaving its target alone', async () => {
    writeFileSync(join(outside, 'victim.txt'), 'untouched');
    rmSync(join(datasetDir('town'), 'b.txt'));
    symlinkSync(join(outside, 'victim.txt'), join(datasetDir('town'), 'b.txt'));
    const { status, body } = await putJson('/api/datasets/town/captions', { file: 'b.png', caption: 'overwritten' });
    expect(status).toBe(403);
    expect(errorOf(body).code).toBe('path_outside_workspace');
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('untouched');
    // Nor is it read back as the picture's caption.
    const detail = as(datasetDetailSchema, (await get('/api/datasets/town')).body);
    expect(detail.images.find((image) => image.file === 'b.png')!.caption).toBeNull();
  });

  it('refuses unknown keys and a missing caption with 400 naming them', async () => {
    const extra = await putJson('/api/datasets/town/captions', { file: 'a.png', caption: 'x', tags: [] });
    expect(extra.status).toBe(400);
    expect(errorOf(extra.body).message).toContain('tags');
    const missing = await putJson('/api/datasets/town/captions', { file: 'a.png' });
    expect(missing.status).toBe(400);
    expect(errorOf(missing.body).field).toBe('caption');
  });

  it('lints a draft with the trigger word, duplicates and the CLIP token count, writing nothing', async () => {
    await putJson('/api/datasets/town/settings', { trigger_word: 'jiangnan_style' });
    const lint = async (body: unknown) => as(captionLintSchema, (await postJson('/api/datasets/town/lint', body)).body);

    const missingTrigger = await lint({ caption: 'a stone bridge over a canal in the rain', file: 'c.png' });
    expect(missingTrigger.findings.map((f) => f.rule)).toEqual(['trigger-word']);
    expect(missingTrigger.findings[0]!.message).toContain('jiangnan_style');

    const clean = await lint({ caption: 'jiangnan_style, a stone bridge over a canal in the rain' });
    expect(clean.findings).toEqual([]);
    expect(clean.tokens.limit).toBe(75);
    expect(clean.tokens.count).toBeGreaterThan(10);

    const long = await lint({ caption: `jiangnan_style, ${'tall white house with black tiles, '.repeat(12)}` });
    expect(long.findings.map((f) => f.rule)).toContain('token-length');
    expect(long.tokens.count).toBeGreaterThan(75);

    // The third picture with one caption is the one flagged.
    await putJson('/api/datasets/town/captions', {
      file: 'b.png',
      caption: 'jiangnan_style, one caption for all of them',
    });
    await putJson('/api/datasets/town/captions', {
      file: 'a.png',
      caption: 'jiangnan_style, one caption for all of them',
    });
    const duplicate = await lint({ caption: 'jiangnan_style, one caption for all of them', file: 'c.png' });
    expect(duplicate.findings.map((f) => f.rule)).toEqual(['duplicate-caption']);
    expect(existsSync(join(datasetDir('town'), 'c.txt'))).toBe(false);
  });

  it('finds and replaces in every caption: a dry run lists, a real run writes', async () => {
    const dry = await postJson('/api/datasets/town/replace', {
      find: 'jiangnan style',
      replace: 'jiangnan_style',
      dry_run: true,
    });
    expect(dry.status).toBe(200);
    const planned = as(replaceResultSchema, dry.body).changed;
    expect(planned.map((c) => c.file)).toEqual(['a.png', 'b.png']);
    expect(planned[0]).toEqual({
      file: 'a.png',
      before: 'a stone bridge, canal town scene, jiangnan style, misty morning',
      after: 'a stone bridge, canal town scene, jiangnan_style, misty morning',
    });
    expect(readFileSync(join(datasetDir('town'), 'a.txt'), 'utf8')).toContain('jiangnan style');

    const real = await postJson('/api/datasets/town/replace', { find: ', beautiful evening', replace: '' });
    expect(as(replaceResultSchema, real.body).changed).toEqual([
      {
        file: 'b.png',
        before: 'white houses by a canal, jiangnan style, beautiful evening',
        after: 'white houses by a canal, jiangnan style',
      },
    ]);
    expect(readFileSync(join(datasetDir('town'), 'b.txt'), 'utf8')).toBe('white houses by a canal, jiangnan style');
  });

  it('refuses an empty `find` with 400 naming it', async () => {
    const { status, body } = await postJson('/api/datasets/town/replace', { find: '', replace: 'x' });
    expect(status).toBe(400);
    expect(errorOf(body).field).toBe('find');
  });

  it('keeps the trigger word in dataset.json; null clears it; a comma is refused', async () => {
    const set = await putJson('/api/datasets/town/settings', { trigger_word: 'jiangnan_style' });
    expect(set.status).toBe(200);
    expect(as(datasetSummarySchema, set.body)).toMatchObject({
      trigger_word: 'jiangnan_style',
      images: 3,
      captioned: 2,
    });
    expect(JSON.parse(readFileSync(join(datasetDir('town'), 'dataset.json'), 'utf8'))).toEqual({
      trigger_word: 'jiangnan_style',
    });
    const detail = as(datasetDetailSchema, (await get('/api/datasets/town')).body);
    expect(detail.trigger_word).toBe('jiangnan_style');

    const cleared = await putJson('/api/datasets/town/settings', { trigger_word: null });
    expect(as(datasetSummarySchema, cleared.body).trigger_word).toBeNull();

    const comma = await putJson('/api/datasets/town/settings', { trigger_word: 'a, b' });
    expect(comma.status).toBe(400);
    expect(errorOf(comma.body).field).toBe('trigger_word');
  });
});

describe('GET /api/datasets/{name}/report', () => {
  it('answers 404 `no_report` before any prepare job, and 404 `dataset_not_found` for no dataset', async () => {
    await makeDataset('town');
    const none = await get('/api/datasets/town/report');
    expect(none.status).toBe(404);
    expect(errorOf(none.body).code).toBe('no_report');
    const missing = await get('/api/datasets/nope/report');
    expect(errorOf(missing.body).code).toBe('dataset_not_found');
  });

  it("shows the newest done prepare job's report: each picture ok, warned or excluded, with reasons", async () => {
    await makeDataset('town');
    await uploadForm(
      'town',
      form({
        'good.png': await noisePng(160, 160, 1),
        'good.txt': 'three houses and a stone bridge, canal town scene, jiangnan style, misty morning',
        'vague.png': await noisePng(160, 160, 20),
        'vague.txt': 'a beautiful canal town scene with white walls, jiangnan style',
        'tiny.png': await noisePng(24, 24, 40),
        'tiny.txt': 'a tiny picture of a canal town, jiangnan style, misty morning',
      }),
    );
    const outDir = join(workspace, 'prepared', 'town');
    await prepareDataset({
      inputDir: datasetDir('town'),
      outDir,
      targetPx: 128,
      crop: 'center',
      useBuckets: false,
      isStrict: false,
      triggerWord: null,
      thresholds: DEFAULT_THRESHOLDS,
      metadataPath: null,
      captionExtension: '.txt',
      tokenizerDir: CLIP_TOKENIZER_DIR,
      jobs: 2,
      toolVersion: '9.9.9',
    });
    // An older job of the same dataset and a newer job of another must both be passed over.
    await finishedPrepareJob('older', 'datasets/town', ['prepared/gone/prepare-report.json']);
    await finishedPrepareJob('mine', './datasets/town/', ['prepared/town', 'prepared/town/prepare-report.json']);
    await finishedPrepareJob('other', 'datasets/other', ['prepared/town/prepare-report.json']);

    const { status, body } = await get('/api/datasets/town/report');
    expect(status).toBe(200);
    const report = as(datasetReportSchema, body);
    expect(report.job_id).toBe('mine');
    const byFile = Object.fromEntries(report.images.map((image) => [image.file, image]));
    expect(byFile['good.png']).toEqual({ file: 'good.png', path: 'datasets/town/good.png', status: 'ok', reasons: [] });
    expect(byFile['vague.png']!.status).toBe('warning');
    expect(byFile['vague.png']!.reasons.map((r) => r.code)).toContain('vague-words');
    expect(byFile['tiny.png']!.status).toBe('excluded');
    expect(byFile['tiny.png']!.reasons[0]!.hint).not.toBe('');
    expect(report.summary).toMatchObject({ images: 3, kept: 2, excluded: 1 });
  });
});

describe('OpenAPI', () => {
  it('lists every datasets route with its methods', async () => {
    const document = as(openApiDocumentSchema, (await get('/api/openapi.json')).body);
    const methods = (path: string) => Object.keys(document.paths[path] as object).sort();
    expect(methods('/api/datasets')).toEqual(['get', 'post']);
    expect(methods('/api/datasets/{name}')).toEqual(['get']);
    expect(methods('/api/datasets/{name}/upload')).toEqual(['post']);
    expect(methods('/api/datasets/{name}/captions')).toEqual(['put']);
    expect(methods('/api/datasets/{name}/lint')).toEqual(['post']);
    expect(methods('/api/datasets/{name}/replace')).toEqual(['post']);
    expect(methods('/api/datasets/{name}/settings')).toEqual(['put']);
    expect(methods('/api/datasets/{name}/report')).toEqual(['get']);
    const upload = (document.paths['/api/datasets/{name}/upload'] as { post: { requestBody: { content: object } } })
      .post;
    expect(Object.keys(upload.requestBody.content).sort()).toEqual(['application/zip', 'multipart/form-data']);
  });
});

async function finishedPrepareJob(id: string, dataset: string, outputs: string[]): Promise<void> {
  await store.createJob({ id, kind: 'prepare', device: 'cpu', config: { dataset } });
  await store.applyEvent(id, { type: 'start' });
  await store.applyEvent(id, { type: 'finish', outputs });
}

function readdirNames(path: string): string[] {
  return existsSync(path) ? readdirSync(path).sort() : [];
}

/** Rewrites the uncompressed size an entry claims, in its local header and the central directory. */
function lieAboutSize(zip: Uint8Array, name: string, size: number): void {
  const view = new DataView(zip.buffer, zip.byteOffset, zip.byteLength);
  const encoded = new TextEncoder().encode(name);
  for (let offset = 0; offset + 4 < zip.length; offset += 1) {
    const signature = view.getUint32(offset, true);
    const nameAt = signature === 0x04034b50 ? 30 : signature === 0x02014b50 ? 46 : -1;
    const sizeAt = signature === 0x04034b50 ? 22 : 24;
    if (nameAt < 0) continue;
    const candidate = zip.subarray(offset + nameAt, offset + nameAt + encoded.length);
    if (candidate.every((byte, i) => byte === encoded[i])) view.setUint32(offset + sizeAt, size, true);
  }
}

// Workspace files over HTTP: types, downloads, thumbnails, and the confinement to the workspace.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, type StudioApp } from '../app.js';
import { errorBodySchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';

const HOST = '127.0.0.1:6008';
let dir: string;
let outside: string;
let store: JobStore;
let app: StudioApp;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-files-'));
  outside = mkdtempSync(join(tmpdir(), 'lora-outside-'));
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  app = createApp({ store, workspace: dir, policy: accessPolicy({ host: '127.0.0.1', port: 6008 }), version: '0' });
  mkdirSync(join(dir, 'output', '江南'), { recursive: true });
  const png = await sharp({ create: { width: 640, height: 320, channels: 3, background: '#3a7' } })
    .png()
    .toBuffer();
  writeFileSync(join(dir, 'output', '江南', 'sample 1.png'), png);
  writeFileSync(join(dir, 'output', 'page.html'), '<script>alert(1)</script>');
  writeFileSync(join(outside, 'secret.txt'), 'secret');
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}) {
  return app.request(`http://${HOST}${path}`, { headers: { host: HOST, ...headers } });
}

async function errorOf(response: Response) {
  return errorBodySchema.parse(await response.json()).error;
}

const SAMPLE = `/api/files/${encodeURIComponent('output/江南/sample 1.png').replaceAll('%2F', '/')}`;

describe('GET /api/files/{path}', () => {
  it('sends a picture with its type and an ETag, and a 304 when the browser has it', async () => {
    const response = await get(SAMPLE);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('content-disposition')).toBeNull();
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(await sharp(bytes).metadata()).toMatchObject({ width: 640, height: 320, format: 'png' });
    const again = await get(SAMPLE, { 'if-none-match': response.headers.get('etag')! });
    expect(again.status).toBe(304);
  });

  it('makes a JPEG thumbnail within the asked size, once', async () => {
    const response = await get(`${SAMPLE}?thumb=256`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('image/jpeg');
    const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 128]);
    const again = await get(`${SAMPLE}?thumb=256`);
    expect(again.headers.get('etag')).toBe(response.headers.get('etag'));
    const bad = await get(`${SAMPLE}?thumb=300`);
    expect(bad.status).toBe(400);
    expect((await errorOf(bad)).message).toMatch(/128, 256, 512, 1024/);
  });

  it('sends what a browser could run as a download, never as a page', async () => {
    const response = await get('/api/files/output/page.html');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toBe('attachment');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('refuses paths outside the workspace, the server’s own folder, folders and missing files', async () => {
    symlinkSync(outside, join(dir, 'output', 'link'));
    const escaping = await get('/api/files/output/link/secret.txt');
    expect([escaping.status, (await errorOf(escaping)).code]).toEqual([403, 'path_outside_workspace']);
    // `%2E%2E/` is resolved by the URL parser itself; an escaped slash reaches the route as `..` segments.
    const dots = await get('/api/files/output%2F..%2F..%2Fetc%2Fpasswd');
    expect(dots.status).toBe(400);
    expect((await errorOf(dots)).code).toBe('path_unsafe');
    for (const path of ['.lora-scripts/studio.db', 'output', 'output/none.png']) {
      const response = await get(`/api/files/${path}`);
      expect([response.status, (await errorOf(response)).code], path).toEqual([404, 'file_not_found']);
    }
    writeFileSync(join(dir, 'output', 'broken.png'), 'not a png');
    const broken = await get('/api/files/output/broken.png?thumb=128');
    expect([broken.status, (await errorOf(broken)).code]).toEqual([400, 'not_a_picture']);
  });
});

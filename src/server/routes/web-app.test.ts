// The web app route on a built folder of its own: files, client-side pages, cache headers, confinement, not built.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore, type JobStore } from '../../store/index.js';
import { createApp } from '../app.js';
import { errorBodySchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import { webAppRoutes } from './web-app.js';

let dir: string;
let root: string;
let store: JobStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-web-'));
  root = join(dir, 'web');
  mkdirSync(join(root, 'assets'), { recursive: true });
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>studio</title>');
  writeFileSync(join(root, 'assets', 'app-abc123.js'), 'console.log(1)');
  writeFileSync(join(root, 'favicon.svg'), '<svg/>');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  store = openSqliteStore(join(dir, 'studio.db'));
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, folder = root, method = 'GET') {
  const app = webAppRoutes({ store, workspace: dir, env: {}, onJobQueued: () => {} }, { root: folder });
  return app.request(`http://127.0.0.1:6008${path}`, { method });
}

describe('web app route', () => {
  it('serves index.html at / and for client-side pages, to be revalidated each time', async () => {
    for (const path of ['/', '/datasets/cats', '/jobs/abc', '/loras']) {
      const response = await get(path);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(await response.text()).toContain('<title>studio</title>');
    }
  });

  it('serves hashed assets with a long cache and other files without', async () => {
    const asset = await get('/assets/app-abc123.js');
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(await asset.text()).toBe('console.log(1)');
    const icon = await get('/favicon.svg');
    expect(icon.headers.get('content-type')).toBe('image/svg+xml');
    expect(icon.headers.get('cache-control')).toBe('no-cache');
  });

  it('answers a missing asset with 404, not the page', async () => {
    expect((await get('/assets/gone-123.js')).status).toBe(404);
  });

  it('serves nothing outside the build folder: .., encoded .., hidden files, symlinks out', async () => {
    symlinkSync(join(dir, 'secret.txt'), join(root, 'link.txt'));
    writeFileSync(join(root, '.env'), 'TOKEN=x');
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/link.txt']) {
      const response = await get(path);
      expect(response.status, path).toBe(404);
      expect(await response.text()).not.toContain('outside');
    }
    // No extension: taken for a page, so the app's index.html, never the file.
    for (const path of ['/.env', '/%E0'])
      expect(await (await get(path)).text(), path).toContain('<title>studio</title>');
  });

  it('says to run `npm run build` when the app is not built', async () => {
    const response = await get('/datasets', join(dir, 'missing'));
    expect(response.status).toBe(503);
    expect(await response.text()).toContain('npm run build');
  });

  it('leaves /api/ paths to the JSON not-found of the app', async () => {
    const app = createApp({
      store,
      workspace: dir,
      policy: accessPolicy({ host: '127.0.0.1', port: 6008 }),
      version: '0.0.0',
    });
    const response = await app.request('http://127.0.0.1:6008/api/nope', { headers: { host: '127.0.0.1:6008' } });
    expect(response.status).toBe(404);
    expect(errorBodySchema.parse(await response.json()).error.code).toBe('route_not_found');
  });
});

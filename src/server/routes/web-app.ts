// The built web app (dist/web), its assets and its client-side pages.
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context } from 'hono';
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';

/** Where `npm run build` puts the web app: `<package>/dist/web` (same from src/server/routes and dist/server/routes). */
export const WEB_APP_DIR = fileURLToPath(new URL('../../../dist/web/', import.meta.url));

/** Vite names these files by their content hash, so a browser may keep them for good. */
const HASHED_ASSETS_PREFIX = '/assets/';
const LONG_CACHE = 'public, max-age=31536000, immutable';
/** index.html and unhashed files must be checked each time, or a new build would not reach open browsers. */
const REVALIDATE = 'no-cache';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

export interface WebAppOptions {
  /** The built app's folder (default: WEB_APP_DIR); tests point it at a folder of their own. */
  root?: string;
}

/**
 * GET and HEAD of any path the API did not take: a file of the build when there is one, otherwise index.html so
 * that the app's own pages (/datasets/x, /jobs/y) load from a bookmark. Not in the OpenAPI document: these are pages,
 * not API. `/api/...` is never answered here, so a mistyped API call still gets the JSON `route_not_found`.
 */
export function webAppRoutes(_deps: RouteDeps, { root = WEB_APP_DIR }: WebAppOptions = {}) {
  const router = createRouter();
  const serve = async (c: Context) => {
    const path = c.req.path;
    if (path === '/api' || path.startsWith('/api/')) return c.notFound();
    const file = await resolveBuiltFile(root, path);
    if (file !== null) return sendFile(c, file, path.startsWith(HASHED_ASSETS_PREFIX) ? LONG_CACHE : REVALIDATE);
    // A missing file with an extension is a broken asset link, not a page: HTML in its place only confuses.
    if (extname(path) !== '') return c.notFound();
    const index = await resolveBuiltFile(root, '/index.html');
    if (index === null) return c.html(NOT_BUILT_PAGE, 503, { 'cache-control': 'no-store' });
    return sendFile(c, index, REVALIDATE);
  };
  router.get('*', serve);
  return router;
}

/**
 * The file under root that a URL path names, or null: no `..`, no hidden files, no symlink out of root, no folder.
 * A decoding failure (`%E0`) is null too, so a bad URL is a 404 rather than a 500.
 */
export async function resolveBuiltFile(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const parts = decoded.split('/').filter((part) => part !== '');
  if (parts.length === 0) return null;
  if (parts.some((part) => part.startsWith('.') || part.includes('\\') || part.includes('\0'))) return null;
  try {
    const realRoot = await realpath(root);
    const real = await realpath(join(realRoot, ...parts));
    if (!real.startsWith(realRoot + sep)) return null;
    return (await stat(real)).isFile() ? real : null;
  } catch {
    return null;
  }
}

async function sendFile(c: Context, file: string, cacheControl: string) {
  const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
  const headers = { 'content-type': type, 'cache-control': cacheControl, 'x-content-type-options': 'nosniff' };
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  return c.body(new Uint8Array(await readFile(file)), 200, headers);
}

const NOT_BUILT_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>lora-scripts studio: not built</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem}code{background:#eee;padding:0 .3em}</style>
</head><body>
<h1>The studio web app is not built yet</h1>
<p>Run <code>npm run build</code> in the lora-scripts folder, then reload this page. The API under <code>/api/</code> works already.</p>
<h1 lang="zh-CN">工作室网页尚未构建</h1>
<p lang="zh-CN">请在 lora-scripts 目录中运行 <code>npm run build</code>，然后刷新本页。<code>/api/</code> 下的接口已经可用。</p>
</body></html>`;

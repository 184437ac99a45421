// Workspace files (sample images, dataset pictures, LoRAs) read through the workspace confinement, and thumbnails.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import type { RouteDeps } from '../app.js';
import { contentTypeOf, isPrivatePath, THUMB_SIZES, thumbnailOf } from '../files/index.js';
import { createRouter } from '../router.js';
import { errorBodySchema } from '../schemas.js';
import { RequestRefused, resolveInWorkspace } from '../security/index.js';
import { BAD_REQUEST, jsonBody, REFUSED_RESPONSES } from './responses.js';

const thumbQuerySchema = z.object({
  thumb: z
    .enum(THUMB_SIZES.map(String) as [string, ...string[]], {
      error: `send one of the thumbnail sizes ${THUMB_SIZES.join(', ')}`,
    })
    .optional(),
});

export function workspaceFileRoutes({ workspace }: RouteDeps) {
  const router = createRouter();
  // The path holds slashes, which an OpenAPI path parameter cannot match: documented here, routed with a pattern.
  router.openAPIRegistry.registerPath({
    method: 'get',
    path: '/api/files/{path}',
    summary:
      'A file of the workspace (its path may hold `/`); `thumb=N` gives a JPEG at most N px on its long side, ' +
      `N one of ${THUMB_SIZES.join(', ')}. The server's own folder \`.lora-scripts/\` is never served.`,
    request: { params: z.object({ path: z.string() }), query: thumbQuerySchema },
    responses: {
      200: { description: 'The file, typed by its extension (unknown types as a download)' },
      ...BAD_REQUEST,
      404: jsonBody(errorBodySchema, 'No such file in the workspace'),
      ...REFUSED_RESPONSES,
    },
  });
  router.get('/api/files/:path{.+}', async (c) => {
    const requested = decodeURIComponent(c.req.param('path'));
    const query = thumbQuerySchema.safeParse(c.req.query());
    if (!query.success) {
      throw new RequestRefused(400, query.error.issues[0]?.message ?? 'bad query', { code: 'invalid_request' });
    }
    if (isPrivatePath(requested)) throw fileNotFound(requested);
    const file = resolveInWorkspace(workspace, requested);
    const info = await stat(file).catch(() => null);
    if (info === null || !info.isFile()) throw fileNotFound(requested);
    if (query.data.thumb !== undefined) {
      const jpeg = await thumbnailOf(workspace, file, info, Number(query.data.thumb));
      return sendFile(c, jpeg.path, jpeg.bytes, { mime: 'image/jpeg', inline: true }, jpeg.etag);
    }
    const etag = `"${info.size.toString(36)}-${Math.round(info.mtimeMs).toString(36)}"`;
    return sendFile(c, file, info.size, contentTypeOf(requested), etag);
  });
  return router;
}

function sendFile(c: Context, file: string, bytes: number, type: { mime: string; inline: boolean }, etag: string) {
  const headers: Record<string, string> = {
    'content-type': type.mime,
    'content-length': String(bytes),
    etag,
    // Files change when a job rewrites them: the browser asks again, and gets a 304 when nothing changed.
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  };
  // Anything that a browser could run (HTML, SVG, scripts) is a download, never a page of this origin.
  if (!type.inline) headers['content-disposition'] = 'attachment';
  if (c.req.header('if-none-match') === etag) return c.body(null, 304, headers);
  const stream = Readable.toWeb(createReadStream(file)) as unknown as ReadableStream;
  return c.body(stream, 200, headers);
}

function fileNotFound(requested: string): RequestRefused {
  return new RequestRefused(404, 'no such file in the workspace', {
    code: 'file_not_found',
    culprit: JSON.stringify(requested),
  });
}

// The cover service: covers for a region or city in its mapped style, with the title set on the picture.
import { realpathSync } from 'node:fs';
import { createRoute, z } from '@hono/zod-openapi';
import { type CoverResult, type CoverService, coverRequestSchema, createCoverService } from '../../covers/index.js';
import { LoraScriptsError } from '../../errors.js';
import { openLibrary, PLACE_LEVELS, type Place } from '../../library/index.js';
import { databaseOf, type RouteDeps } from '../app.js';
import { sharedRenderWorker } from '../render-pool.js';
import { createRouter } from '../router.js';
import { errorBodySchema } from '../schemas.js';
import { RequestRefused } from '../security/index.js';
import { BAD_REQUEST, BODY_REFUSED, jsonBody, REFUSED_RESPONSES } from './responses.js';

export const coverRequestBodySchema = coverRequestSchema.meta({ id: 'CoverRequest' });

export const coverSchema = z
  .strictObject({
    /** Workspace-relative: `covers/<key>/<i>.png`. */
    path: z.string(),
    /** The same file through `GET /api/files/{path}`. */
    url: z.string(),
    seed: z.number().int().nonnegative(),
    /** WebUI's `parameters` text, also in the PNG. */
    infotext: z.string(),
  })
  .meta({ id: 'Cover' });

export const coversResponseSchema = z
  .strictObject({
    /** The cache key: sha256 of the request's effect and the style version's LoRA bytes. */
    key: z.string().regex(/^[0-9a-f]{64}$/),
    style: z.string(),
    version: z.number().int().positive(),
    sha256: z.string(),
    /** Which part of the place found the style (`city` → `province` → `region` → `default`). */
    matched: z.enum(PLACE_LEVELS),
    /** The prompt the style's template made, LoRA tags included. */
    prompt: z.string(),
    /** The title set on the pictures; null with `title_on_image: false`. */
    title: z.string().nullable(),
    /** true: these files were made by an earlier identical request; nothing was rendered. */
    cached: z.boolean(),
    covers: z.array(coverSchema),
  })
  .meta({ id: 'Covers' });

const makeCovers = createRoute({
  method: 'post',
  path: '/api/covers',
  tags: ['covers'],
  summary:
    "Covers for a place in its mapped style (city → province → region → default), at the style version's " +
    'recommended strength, the title set on a band across the bottom; the same request again is read from the cache',
  request: { body: { required: true, content: { 'application/json': { schema: coverRequestBodySchema } } } },
  responses: {
    200: jsonBody(coversResponseSchema, 'The covers, as workspace files'),
    ...BAD_REQUEST,
    404: jsonBody(errorBodySchema, 'No style is mapped to the place (and there is no default mapping)'),
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

/** Cover renders a studio on a queue keeps out at once: more than a cluster's workers, few enough to stay fair. */
const QUEUED_RENDERS_IN_FLIGHT = 16;

export function coverRoutes(deps: RouteDeps) {
  let service: CoverService | null = null;
  // Made on the first request: the worker process and the workspace's real path are not needed before.
  const covers = () => {
    service ??= createCoverService({
      workspace: realpathSync(deps.workspace),
      resolvePlace: (place, at) => resolvePlace(deps, place, at),
      renderer: sharedRenderWorker(deps),
      // On a queue the workers share the renders: keep enough out for every worker, BullMQ holds the rest.
      rendersInFlight: deps.queue ? QUEUED_RENDERS_IN_FLIGHT : 1,
    });
    return service;
  };
  return createRouter().openapi(makeCovers, async (c) => {
    const result = await covers()
      .makeCovers(c.req.valid('json'), c.req.raw.signal)
      .catch((error: unknown) => {
        throw asRefusal(error);
      });
    return c.json(withUrls(result), 200);
  });
}

/** A connection per lookup, as the library's routes do: the app has no close hook to end a long-lived one. */
async function resolvePlace(deps: RouteDeps, place: Place, at: Date) {
  const library = await openLibrary(databaseOf(deps), { workspace: realpathSync(deps.workspace) });
  try {
    return await library.resolvePlace(place, at);
  } finally {
    await library.close();
  }
}

/** An unmapped place is a missing thing (404), not bad input; the rest keeps the app's mapping. */
function asRefusal(error: unknown): unknown {
  if (!(error instanceof LoraScriptsError) || error.code !== 'place_not_mapped') return error;
  return new RequestRefused(404, error.message, {
    code: error.code,
    ...(error.hint ? { hint: error.hint } : {}),
    field: 'region',
  });
}

function withUrls(result: CoverResult): z.infer<typeof coversResponseSchema> {
  return { ...result, covers: result.covers.map((cover) => ({ ...cover, url: `/api/files/${cover.path}` })) };
}

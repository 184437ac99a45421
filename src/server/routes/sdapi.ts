// The AUTOMATIC1111-compatible API (/sdapi/v1/…), wire-compatible with what its clients send and read: their field
// names and types, FastAPI's 422 `{detail: [...]}` for a request we refuse, A1111's `{error, detail, body, errors}`
// envelope for any other failure. Renders go to the server's shared render worker.
import { createRoute, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LoraScriptsError } from '../../errors.js';
import { SAMPLER_NAMES } from '../../generate/index.js';
import { databaseOf, type RouteDeps } from '../app.js';
import { sharedRenderWorker } from '../render-pool.js';
import { errorBodySchema } from '../schemas.js';
import { createRouter } from '../router.js';
import {
  ApiFailure,
  createSdapiService,
  emptyObjectSchema,
  FieldFaults,
  loraListSchema,
  nullSchema,
  optionsBodySchema,
  optionsSchema,
  progressQuerySchema,
  progressSchema,
  samplerListSchema,
  SCHEDULERS,
  schedulerListSchema,
  scriptListSchema,
  sdapiFailureSchema,
  sdapiValidationErrorSchema,
  sdModelListSchema,
  txt2imgBodySchema,
  txt2imgResponseSchema,
  workspaceLibrary,
} from '../sdapi/index.js';
import { jsonBody, REFUSED_RESPONSES } from './responses.js';

const BASE = '/sdapi/v1';
const TAGS = ['A1111-compatible API'];

const INVALID = {
  422: jsonBody(sdapiValidationErrorSchema, 'A field that is not valid or not supported; `loc` names it'),
};
const BODY_FAILURES = {
  ...INVALID,
  // Answered by the studio's body limit before any route, in the studio's error shape.
  413: jsonBody(errorBodySchema, 'The body is larger than the server accepts (1 MiB)'),
  415: jsonBody(sdapiFailureSchema, 'The body is not JSON'),
} as const;

const jsonRequest = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { 'application/json': { schema } } },
});

const txt2img = createRoute({
  method: 'post',
  path: `${BASE}/txt2img`,
  tags: TAGS,
  summary: 'Render images from a prompt (`<lora:NAME:W>` tags apply LoRAs of the workspace), as A1111 does',
  request: jsonRequest(txt2imgBodySchema),
  responses: {
    200: jsonBody(txt2imgResponseSchema, 'Base64 PNGs, the request as read, and `info` (a JSON string)'),
    ...BODY_FAILURES,
    404: jsonBody(sdapiFailureSchema, "No base model in the workspace's `models/` folder"),
    500: jsonBody(sdapiFailureSchema, 'The engine failed while rendering (not the request: its log says why)'),
    503: jsonBody(sdapiFailureSchema, 'The engine is not set up (`lora-scripts setup`)'),
    ...REFUSED_RESPONSES,
  },
});

const getRoute = <T extends z.ZodType>(path: string, schema: T, summary: string) =>
  createRoute({
    method: 'get',
    path: `${BASE}${path}`,
    tags: TAGS,
    summary,
    responses: { 200: jsonBody(schema, summary), ...REFUSED_RESPONSES },
  });

const sdModels = getRoute('/sd-models', sdModelListSchema, "The workspace's base models (`models/**/*.safetensors`)");
const loras = getRoute('/loras', loraListSchema, "The workspace's LoRA files, by the names `<lora:NAME>` takes");
const samplers = getRoute('/samplers', samplerListSchema, 'The samplers this server runs');
const schedulers = getRoute('/schedulers', schedulerListSchema, 'The schedule types this server runs');
const scripts = getRoute('/scripts', scriptListSchema, 'Selectable scripts: none (clients probe this)');
const getOptions = getRoute('/options', optionsSchema, 'Settings; `sd_model_checkpoint` is the current checkpoint');

const progress = createRoute({
  method: 'get',
  path: `${BASE}/progress`,
  tags: TAGS,
  summary: 'How far the running txt2img is (0 and `job_count` 0 when idle)',
  request: { query: progressQuerySchema },
  responses: { 200: jsonBody(progressSchema, 'The progress'), ...INVALID, ...REFUSED_RESPONSES },
});

const setOptions = createRoute({
  method: 'post',
  path: `${BASE}/options`,
  tags: TAGS,
  summary:
    'Switch the checkpoint (`sd_model_checkpoint`, any spelling `/sd-models` gives); other keys must be unchanged',
  request: jsonRequest(optionsBodySchema),
  responses: { 200: jsonBody(nullSchema, 'Done: `null`'), ...BODY_FAILURES, ...REFUSED_RESPONSES },
});

const postRoute = <T extends z.ZodType>(path: string, schema: T, summary: string, answer: string) =>
  createRoute({
    method: 'post',
    path: `${BASE}${path}`,
    tags: TAGS,
    summary,
    responses: { 200: jsonBody(schema, answer), ...REFUSED_RESPONSES },
  });

const interrupt = postRoute(
  '/interrupt',
  emptyObjectSchema,
  'Stop the running txt2img at its next sampling step; it answers with the batches already finished',
  '`{}`',
);
const refreshCheckpoints = postRoute('/refresh-checkpoints', nullSchema, 'Re-read the models folder', '`null`');
const refreshLoras = postRoute('/refresh-loras', nullSchema, 'Re-read the LoRA files', '`null`');

export function sdapiRoutes(deps: RouteDeps) {
  const service = createSdapiService({
    workspace: deps.workspace,
    worker: () => sharedRenderWorker(deps),
    loraSources: workspaceLibrary(databaseOf(deps), deps.workspace),
  });
  const router = createRouter();
  router.onError((error, c) => sdapiError(error, c));
  // A body that is not an object: FastAPI's 422, not the studio's 400.
  // (Typed `never`: the hook may answer any status its route declares, which Hono's types cannot follow.)
  const notAnObject = (result: { success: boolean }, c: Context): never =>
    (result.success
      ? undefined
      : c.json(
          { detail: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] },
          422,
        )) as never;

  return router
    .openapi(txt2img, async (c) => c.json(await service.txt2img(c.req.valid('json')), 200), notAnObject)
    .openapi(sdModels, async (c) => c.json(await service.sdModels(), 200))
    .openapi(loras, async (c) => c.json(await service.loras(), 200))
    .openapi(samplers, (c) =>
      c.json(
        SAMPLER_NAMES.map((name) => ({ name, aliases: [], options: {} })),
        200,
      ),
    )
    .openapi(schedulers, (c) =>
      c.json(
        SCHEDULERS.map((s) => ({ ...s })),
        200,
      ),
    )
    .openapi(scripts, (c) => c.json({ txt2img: [], img2img: [] }, 200))
    .openapi(getOptions, async (c) => c.json(await service.options(), 200))
    .openapi(
      setOptions,
      async (c) => {
        await service.setOptions(c.req.valid('json'));
        return c.json(null, 200);
      },
      notAnObject,
    )
    .openapi(progress, (c) => c.json(service.progress(), 200))
    .openapi(interrupt, (c) => {
      service.interrupt();
      return c.json({}, 200);
    })
    .openapi(refreshCheckpoints, (c) => c.json(null, 200))
    .openapi(refreshLoras, (c) => c.json(null, 200))
    .all(`${BASE}/*`, (c) => notRouted(c, router));
}

/**
 * FastAPI's answers for what no route takes: 405 for a known path with another method, else 404. Without this the
 * studio's web app would answer such GETs with its HTML page, which clients cannot parse.
 */
function notRouted(c: Context, router: ReturnType<typeof createRouter>): Response {
  const known = router.openAPIRegistry.definitions.some(
    (definition) => definition.type === 'route' && definition.route.path === c.req.path,
  );
  return known ? c.json({ detail: 'Method Not Allowed' }, 405) : c.json({ detail: 'Not Found' }, 404);
}

/** Errors in A1111's shapes; an unexpected one goes on to the app's handler (a logged 500). */
function sdapiError(error: Error, c: Context): Response {
  if (error instanceof FieldFaults) return c.json({ detail: error.faults }, 422);
  if (error instanceof ApiFailure) return c.json(envelope(error.error, error.message), error.status);
  if (error instanceof HTTPException && error.status === 400)
    // Hono's JSON parse failure: FastAPI answers a body that is not JSON with a 422 at `body`.
    return c.json({ detail: [{ loc: ['body', 0], msg: error.message, type: 'value_error.jsondecode' }] }, 422);
  if (error instanceof HTTPException && error.status < 500)
    return c.json(envelope('HTTPException', error.message), error.status as ContentfulStatusCode);
  if (error instanceof LoraScriptsError)
    return c.json(envelope(error.code, error.hint ? `${error.line}; ${error.hint}` : error.line), 400);
  throw error;
}

function envelope(kind: string, message: string) {
  return { error: kind, detail: message, body: '', errors: message };
}

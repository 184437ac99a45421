// The studio's HTTP app: security first, then the routes; no listen here (serve.ts does that), so tests call request().
import { createRoute, OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getCookie, setCookie } from 'hono/cookie';
import { PROTOCOL_VERSION } from '../engine/index.js';
import { type DatabaseLocation, databaseLocation, type JobStore, STORE_FILE } from '../store/index.js';
import type { QueueLocation } from '../queue/index.js';
import { errorToHttp, refusalError } from './http-errors.js';
import { configRoutes } from './routes/config.js';
import { coverRoutes } from './routes/covers.js';
import { datasetRoutes } from './routes/datasets.js';
import { experimentRoutes } from './routes/experiments.js';
import { libraryRoutes } from './routes/library.js';
import { sdapiRoutes } from './routes/sdapi.js';
import { jobEventRoutes } from './routes/job-events.js';
import { jobQueueRoutes } from './routes/job-queue.js';
import { jobRoutes } from './routes/jobs.js';
import { loraRoutes } from './routes/loras.js';
import { workspaceFileRoutes } from './routes/files.js';
import { webAppRoutes } from './routes/web-app.js';
import { workerRoutes } from './routes/workers.js';
import { jsonBody, REFUSED_RESPONSES } from './routes/responses.js';
import { type ErrorBody, type OpenApiDocument, openApiDocumentSchema } from './schemas.js';
import { metaRoutes } from './routes/meta.js';
import { type AccessPolicy, checkRequest, DEFAULT_LIMITS } from './security/index.js';

export interface AppDeps {
  store: JobStore;
  /** The absolute workspace folder every path the API takes is confined to. */
  workspace: string;
  policy: AccessPolicy;
  /** The lora-scripts version reported by `/api/version`. */
  version: string;
  /** The environment the engine runs with (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Where the library and the experiments open their stores (default: the workspace's SQLite file). */
  database?: DatabaseLocation;
  /** `serve --queue`: renders go to the workers on this Redis (default: a render worker in this process). */
  queue?: QueueLocation;
  /** Called after a job is queued, so the runner starts it at once (default: nothing; the runner polls). */
  onJobQueued?: () => void;
  /** Where the stack of an unexpected error goes (default: stderr); the client only sees a generic 500. */
  logError?: (error: unknown) => void;
}

export const OPENAPI_PATH = '/api/openapi.json';

const openApiRoute = createRoute({
  method: 'get',
  path: OPENAPI_PATH,
  summary: 'This document: every route with its request and response schemas (OpenAPI 3)',
  responses: { 200: jsonBody(openApiDocumentSchema, 'The OpenAPI 3 document'), ...REFUSED_RESPONSES },
});

/** What every resource's routes may use: the store, the workspace, the engine's environment, the runner's wake-up. */
export interface RouteDeps {
  store: JobStore;
  workspace: string;
  env: NodeJS.ProcessEnv;
  onJobQueued: () => void;
  /**
   * The studio's database: areas with tables of their own (library, experiments) open their stores there.
   * Default (`databaseOf`): the workspace's SQLite file.
   */
  database?: DatabaseLocation;
  /** `serve --queue`: the Redis the workers share; renders go there instead of to an engine in this process. */
  queue?: QueueLocation;
}

export function databaseOf(deps: Pick<RouteDeps, 'workspace' | 'database'>): DatabaseLocation {
  return deps.database ?? databaseLocation(undefined, deps.workspace);
}

export { STORE_FILE };

export function createApp({
  store,
  workspace,
  policy,
  version,
  env = process.env,
  database = databaseLocation(undefined, workspace),
  queue,
  onJobQueued = () => {},
  logError = logToStderr,
}: AppDeps) {
  const deps: RouteDeps = { store, workspace, env, onJobQueued, database, ...(queue ? { queue } : {}) };
  const app = new OpenAPIHono();
  app.use('*', accessCheck(policy));
  app.use('*', jsonBodyLimit());
  const api = app
    .route('/', metaRoutes({ name: 'lora-scripts', version, protocol: PROTOCOL_VERSION }))
    .route('/', jobRoutes(store))
    .route('/', jobQueueRoutes({ store, workspace, onQueued: onJobQueued }))
    .route('/', jobEventRoutes(deps))
    .route('/', workspaceFileRoutes(deps))
    .route('/', datasetRoutes(deps))
    .route('/', loraRoutes(deps))
    .route('/', configRoutes(deps))
    .route('/', libraryRoutes(deps))
    .route('/', experimentRoutes(deps))
    .route('/', coverRoutes(deps))
    .route('/', sdapiRoutes(deps))
    .route('/', workerRoutes(deps));

  // Registered as a route of its own (not `app.doc`) so that the document lists itself too.
  const documentConfig = {
    openapi: '3.0.0',
    info: { title: 'lora-scripts studio', version, description: 'The HTTP API of `lora-scripts serve`' },
  };
  app.openapi(openApiRoute, (c) => c.json(app.getOpenAPIDocument(documentConfig) as OpenApiDocument, 200));

  // Last: the web app answers the GETs no API route took (its pages are client-side routes).
  app.route('/', webAppRoutes(deps));
  app.notFound((c) => c.json(routeNotFound(c.req.method, c.req.path), 404));
  app.onError((error, c) => {
    const { status, body, internal } = errorToHttp(error);
    if (internal) logError(error);
    return c.json(body, status);
  });
  return api;
}

/** The cookie that keeps a browser logged in after it opened the printed `?token=` link. */
export const TOKEN_COOKIE = 'lora_scripts_token';

/** Runs before anything else, so a refused request never reaches a route or reads its body. */
function accessCheck(policy: AccessPolicy): MiddlewareHandler {
  return async (c, next) => {
    const queryToken = c.req.query('token');
    const cookieToken = getCookie(c, TOKEN_COOKIE);
    const refusal = checkRequest(policy, {
      method: c.req.method,
      hostHeader: c.req.header('host'),
      originHeader: c.req.header('origin'),
      authorization: c.req.header('authorization'),
      cookieToken,
      queryToken,
    });
    if (refusal !== null) {
      const { status, body } = refusalError(refusal);
      return c.json(body, status);
    }
    await next();
    // SameSite=Strict: another site's page cannot make the browser send it; HttpOnly: the page's scripts never see it.
    if (policy.tokenRequired && queryToken !== undefined && queryToken !== cookieToken) {
      setCookie(c, TOKEN_COOKIE, queryToken, { httpOnly: true, sameSite: 'Strict', path: '/' });
    }
  };
}

/**
 * The JSON body limit, for every request but uploads (`multipart/form-data`, `application/zip`): an upload route sets
 * its own, larger limit, and the file limits apply as it reads.
 */
function jsonBodyLimit(): MiddlewareHandler {
  const maxSize = DEFAULT_LIMITS.bodyJsonBytes;
  const tooLarge: ErrorBody = {
    error: {
      code: 'body_too_large',
      message: `the request body is larger than ${maxSize} bytes (${maxSize / 1024 / 1024} MiB)`,
      hint: 'send a smaller body',
    },
  };
  const limit = bodyLimit({ maxSize, onError: (c) => c.json(tooLarge, 413) });
  return async (c, next) => (isUpload(c.req.header('content-type')) ? next() : limit(c, next));
}

export function isUpload(contentType: string | undefined): boolean {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return type === 'multipart/form-data' || type === 'application/zip';
}

function routeNotFound(method: string, path: string): ErrorBody {
  return {
    error: {
      code: 'route_not_found',
      message: `no route \`${method} ${path}\``,
      hint: `GET ${OPENAPI_PATH} lists the routes`,
    },
  };
}

export type StudioApp = ReturnType<typeof createApp>;

function logToStderr(error: unknown): void {
  process.stderr.write(`studio: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

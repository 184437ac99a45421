// The style library and the regions: styles with versions (draft, promoted, retired), place → style mappings, and
// "continue this style on new pictures" (a train job whose LoRA becomes the next version when it is done).
import { realpathSync } from 'node:fs';
import { createRoute } from '@hono/zod-openapi';
import { continuationTrainConfig, openLibrary, type StyleLibrary } from '../../library/index.js';
import { databaseOf, type RouteDeps } from '../app.js';
import { createRouter } from '../router.js';
import { checkJobConfig, DEFAULT_DEVICE } from '../runner/index.js';
import { resolveInWorkspace } from '../security/index.js';
import {
  addedVersionSchema,
  addVersionBodySchema,
  continueBodySchema,
  continuedSchema,
  editStyleBodySchema,
  editVersionBodySchema,
  regionListSchema,
  regionParamsSchema,
  regionSchema,
  removedRegionSchema,
  resolveQuerySchema,
  resolveResultSchema,
  setRegionBodySchema,
  styleDetailSchema,
  styleListSchema,
  styleParamsSchema,
  styleSchema,
  styleVersionSchema,
  versionParamsSchema,
} from './library-schemas.js';
import { BAD_REQUEST, BODY_REFUSED, CONFLICT, jsonBody, NOT_FOUND, REFUSED_RESPONSES } from './responses.js';

const TAG = ['library'];
const jsonRequest = <T>(schema: T) => ({ required: true, content: { 'application/json': { schema } } });

const listStyles = createRoute({
  method: 'get',
  path: '/api/library/styles',
  tags: TAG,
  summary: 'Styles with their number of versions and the promoted one (finished continuations are folded in first)',
  responses: { 200: jsonBody(styleListSchema, 'The styles'), ...REFUSED_RESPONSES },
});

const getStyle = createRoute({
  method: 'get',
  path: '/api/library/styles/{name}',
  tags: TAG,
  summary: 'A style with every version and its continuations',
  request: { params: styleParamsSchema },
  responses: { 200: jsonBody(styleDetailSchema, 'The style'), ...BAD_REQUEST, ...NOT_FOUND, ...REFUSED_RESPONSES },
});

const editStyle = createRoute({
  method: 'patch',
  path: '/api/library/styles/{name}',
  tags: TAG,
  summary: "Set the style's prompt template (`{title}`, `{prompt}`, `{style}`, `{strength}`, `{trigger_words}`)",
  request: { params: styleParamsSchema, body: jsonRequest(editStyleBodySchema) },
  responses: {
    200: jsonBody(styleSchema, 'The style'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const addVersion = createRoute({
  method: 'post',
  path: '/api/library/styles/{name}/versions',
  tags: TAG,
  summary:
    'Add a LoRA file of the workspace as a draft version (the style is made when new); the same bytes again give the same version',
  request: { params: styleParamsSchema, body: jsonRequest(addVersionBodySchema) },
  responses: {
    201: jsonBody(addedVersionSchema, 'A new version'),
    200: jsonBody(addedVersionSchema, 'The version these bytes already are'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const getVersion = createRoute({
  method: 'get',
  path: '/api/library/styles/{name}/versions/{version}',
  tags: TAG,
  summary: 'One version: file, base model, lineage, trigger words, strength, samples, notes, tags, status',
  request: { params: versionParamsSchema },
  responses: { 200: jsonBody(styleVersionSchema, 'The version'), ...BAD_REQUEST, ...NOT_FOUND, ...REFUSED_RESPONSES },
});

const editVersion = createRoute({
  method: 'patch',
  path: '/api/library/styles/{name}/versions/{version}',
  tags: TAG,
  summary: "Edit a version's notes, tags, trigger words, strength, sample grid or base model (the file never changes)",
  request: { params: versionParamsSchema, body: jsonRequest(editVersionBodySchema) },
  responses: {
    200: jsonBody(styleVersionSchema, 'The version'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const statusRoute = (action: 'promote' | 'retire', summary: string) =>
  createRoute({
    method: 'post',
    path: `/api/library/styles/{name}/versions/{version}/${action}`,
    tags: TAG,
    summary,
    request: { params: versionParamsSchema },
    responses: {
      200: jsonBody(styleVersionSchema, 'The version'),
      ...BAD_REQUEST,
      ...NOT_FOUND,
      ...CONFLICT,
      ...REFUSED_RESPONSES,
    },
  });
const promoteVersion = statusRoute(
  'promote',
  'Make this the version the style name resolves to; the one promoted before is retired',
);
const retireVersion = statusRoute('retire', 'Retire a version; a retired promoted version leaves the style with none');

const continueStyle = createRoute({
  method: 'post',
  path: '/api/library/styles/{name}/continue',
  tags: TAG,
  summary:
    'Continue the promoted version on new pictures: queues a train job with `init_lora` = its file; when the job is done its LoRA becomes the next draft version',
  request: { params: styleParamsSchema, body: jsonRequest(continueBodySchema) },
  responses: {
    201: jsonBody(continuedSchema, 'The queued train job'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...CONFLICT,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const listRegions = createRoute({
  method: 'get',
  path: '/api/library/regions',
  tags: TAG,
  summary: 'Every place → style rule',
  responses: { 200: jsonBody(regionListSchema, 'The rules'), ...REFUSED_RESPONSES },
});

const setRegion = createRoute({
  method: 'post',
  path: '/api/library/regions',
  tags: TAG,
  summary: 'Add a place → style rule, or replace the one with the same level, place and time window',
  request: { body: jsonRequest(setRegionBodySchema) },
  responses: {
    200: jsonBody(regionSchema, 'The rule'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const removeRegion = createRoute({
  method: 'delete',
  path: '/api/library/regions/{id}',
  tags: TAG,
  summary: 'Remove a rule',
  request: { params: regionParamsSchema },
  responses: { 200: jsonBody(removedRegionSchema, 'Removed'), ...BAD_REQUEST, ...NOT_FOUND, ...REFUSED_RESPONSES },
});

const resolvePlace = createRoute({
  method: 'get',
  path: '/api/library/resolve',
  tags: TAG,
  summary:
    'The style a place gets at a time (city → province → region → default, event windows first); null when no rule applies',
  request: { query: resolveQuerySchema },
  responses: { 200: jsonBody(resolveResultSchema, 'The resolved style'), ...BAD_REQUEST, ...REFUSED_RESPONSES },
});

export function libraryRoutes(deps: RouteDeps) {
  /**
   * A connection per request: the app has no close hook; opening a migrated SQLite file takes a millisecond, and a
   * PostgreSQL one is taken from the process's pool.
   */
  async function withLibrary<T>(use: (library: StyleLibrary) => Promise<T>): Promise<T> {
    const library = await openLibrary(databaseOf(deps), { workspace: realpathSync(deps.workspace) });
    try {
      return await use(library);
    } finally {
      await library.close();
    }
  }
  const inWorkspace = (path: string) => resolveInWorkspace(deps.workspace, path);
  const checkedPaths = (paths: string[] | undefined) => {
    for (const path of paths ?? []) inWorkspace(path);
    return paths;
  };

  return createRouter()
    .openapi(listStyles, async (c) =>
      withLibrary(async (library) => {
        await library.reconcileContinuations(deps.store);
        return c.json({ styles: await library.listStyles() }, 200);
      }),
    )
    .openapi(getStyle, async (c) =>
      withLibrary(async (library) => {
        await library.reconcileContinuations(deps.store);
        return c.json(await library.getStyle(c.req.valid('param').name), 200);
      }),
    )
    .openapi(editStyle, async (c) =>
      withLibrary(async (library) => {
        const { name } = c.req.valid('param');
        return c.json(await library.setPromptTemplate(name, c.req.valid('json').prompt_template), 200);
      }),
    )
    .openapi(addVersion, async (c) =>
      withLibrary(async (library) => {
        const { name } = c.req.valid('param');
        const { lora_path, ...fields } = c.req.valid('json');
        const file = inWorkspace(lora_path);
        const { version, isNew } = await library.addVersion({
          ...fields,
          style: name,
          file,
          sample_grid: checkedPaths(fields.sample_grid),
        });
        return isNew ? c.json({ version, is_new: true }, 201) : c.json({ version, is_new: false }, 200);
      }),
    )
    .openapi(getVersion, async (c) =>
      withLibrary(async (library) => {
        const { name, version } = c.req.valid('param');
        return c.json(await library.getVersion(name, version), 200);
      }),
    )
    .openapi(editVersion, async (c) =>
      withLibrary(async (library) => {
        const { name, version } = c.req.valid('param');
        const edit = c.req.valid('json');
        return c.json(
          await library.editVersion(name, version, { ...edit, sample_grid: checkedPaths(edit.sample_grid) }),
          200,
        );
      }),
    )
    .openapi(promoteVersion, async (c) =>
      withLibrary(async (library) => {
        const { name, version } = c.req.valid('param');
        return c.json(await library.changeStatus(name, version, 'promote'), 200);
      }),
    )
    .openapi(retireVersion, async (c) =>
      withLibrary(async (library) => {
        const { name, version } = c.req.valid('param');
        return c.json(await library.changeStatus(name, version, 'retire'), 200);
      }),
    )
    .openapi(continueStyle, async (c) =>
      withLibrary(async (library) => {
        const { name } = c.req.valid('param');
        const promoted = await library.promoted(name);
        const config = continuationTrainConfig(promoted, c.req.valid('json'), new Date());
        checkJobConfig('train', config, deps.workspace);
        const job = await deps.store.createJob({ kind: 'train', device: DEFAULT_DEVICE, config });
        const continuation = await library.recordContinuation(job.id, name, promoted.version);
        deps.onJobQueued();
        return c.json({ job, continuation }, 201);
      }),
    )
    .openapi(listRegions, async (c) =>
      withLibrary(async (library) => c.json({ regions: await library.listRegions() }, 200)),
    )
    .openapi(setRegion, async (c) =>
      withLibrary(async (library) => c.json(await library.setRegion(c.req.valid('json')), 200)),
    )
    .openapi(removeRegion, async (c) =>
      withLibrary(async (library) => {
        const { id } = c.req.valid('param');
        await library.removeRegion(id);
        return c.json({ id }, 200);
      }),
    )
    .openapi(resolvePlace, async (c) =>
      withLibrary(async (library) => {
        const { at, ...place } = c.req.valid('query');
        const when = at === undefined ? new Date() : new Date(at);
        return c.json({ at: when.toISOString(), resolved: await library.resolvePlace(place, when) }, 200);
      }),
    );
}

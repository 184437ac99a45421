// Datasets in the workspace: upload, pictures, captions with lint, find-and-replace, the prepare report.
import { createRoute, z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { type ClipBpe, readClipBpe } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import type { RouteDeps } from '../app.js';
import {
  addToDataset,
  captionEditBodySchema,
  captionLintSchema,
  captionSavedSchema,
  createDataset,
  type DatasetFolder,
  datasetDetailSchema,
  datasetListSchema,
  datasetParamsSchema,
  datasetPath,
  datasetReportSchema,
  datasetSummarySchema,
  findDataset,
  formSources,
  imageFiles,
  lintBodySchema,
  lintCaption,
  listDatasets,
  newDatasetBodySchema,
  planReplace,
  readCaptions,
  readDatasetImages,
  readDatasetReport,
  readSettings,
  replaceBodySchema,
  replaceResultSchema,
  settingsBodySchema,
  summarizeDataset,
  triggerWordOf,
  uploadBodyLimitBytes,
  uploadFormSchema,
  uploadResultSchema,
  writeCaption,
  writeSettings,
  zipSources,
} from '../datasets/index.js';
import { createRouter } from '../router.js';
import { type ErrorBody, errorBodySchema } from '../schemas.js';
import { DEFAULT_ZIP_LIMITS, type ZipLimits } from '../security/index.js';
import { BAD_REQUEST, jsonBody, REFUSED_RESPONSES, BODY_REFUSED } from './responses.js';

const DATASET_NOT_FOUND = { 404: jsonBody(errorBodySchema, 'No dataset of that name (`dataset_not_found`)') } as const;
const params = datasetParamsSchema;
/** Documents the zip body; no validator reads it (only JSON and form bodies get one): the route unpacks it itself. */
const ZIP_BODY = z.string().meta({ type: 'string', format: 'binary', id: 'DatasetZip' });
const json = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
});

const listRoute = createRoute({
  method: 'get',
  path: '/api/datasets',
  summary: 'The datasets in `datasets/`, with picture and caption counts',
  responses: { 200: jsonBody(datasetListSchema, 'The datasets, by name'), ...REFUSED_RESPONSES },
});

const createDatasetRoute = createRoute({
  method: 'post',
  path: '/api/datasets',
  summary: 'A new, empty dataset folder `datasets/<name>`',
  request: { body: json(newDatasetBodySchema) },
  responses: {
    201: jsonBody(datasetSummarySchema, 'The new dataset'),
    ...BAD_REQUEST,
    409: jsonBody(errorBodySchema, 'A dataset of that name exists (`dataset_exists`)'),
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const uploadRoute = (limits: ZipLimits) =>
  createRoute({
    method: 'post',
    path: '/api/datasets/{name}/upload',
    summary:
      'Add pictures and `.txt` captions: `files` parts of a form (a folder upload keeps sub-paths) or a zip; other files are skipped with a reason, existing ones are never replaced',
    middleware: [uploadBodyLimit(limits)] as const,
    request: {
      params,
      // Not `required`: with it the form validator would also run on a zip body and find no `files` in it.
      body: {
        required: false,
        content: { 'multipart/form-data': { schema: uploadFormSchema }, 'application/zip': { schema: ZIP_BODY } },
      },
    },
    responses: {
      200: jsonBody(uploadResultSchema, 'What was added and what was skipped, and why'),
      ...BAD_REQUEST,
      ...DATASET_NOT_FOUND,
      413: jsonBody(errorBodySchema, 'Too many files, a file too large, or too much in all; `message` names the file'),
      415: jsonBody(errorBodySchema, 'Neither `multipart/form-data` nor `application/zip`'),
      ...REFUSED_RESPONSES,
    },
  });

const detailRoute = createRoute({
  method: 'get',
  path: '/api/datasets/{name}',
  summary: 'A dataset: every picture with its caption and size',
  request: { params },
  responses: {
    200: jsonBody(datasetDetailSchema, 'The dataset'),
    ...BAD_REQUEST,
    ...DATASET_NOT_FOUND,
    ...REFUSED_RESPONSES,
  },
});

const captionRoute = createRoute({
  method: 'put',
  path: '/api/datasets/{name}/captions',
  summary: "Write one picture's caption (`<stem>.txt` beside it, atomically) and lint it",
  request: { params, body: json(captionEditBodySchema) },
  responses: {
    200: jsonBody(captionSavedSchema, 'The saved caption and its lint'),
    ...BAD_REQUEST,
    404: jsonBody(errorBodySchema, 'No such dataset, or `file` is not one of its pictures'),
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const lintRoute = createRoute({
  method: 'post',
  path: '/api/datasets/{name}/lint',
  summary: "Lint a caption as it is typed: the dataset's caption rules and the CLIP token count; writes nothing",
  request: { params, body: json(lintBodySchema) },
  responses: {
    200: jsonBody(captionLintSchema, 'Findings and token count'),
    ...BAD_REQUEST,
    ...DATASET_NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const replaceRoute = createRoute({
  method: 'post',
  path: '/api/datasets/{name}/replace',
  summary: 'Find and replace literal text in every caption (`dry_run`: only list the changes)',
  request: { params, body: json(replaceBodySchema) },
  responses: {
    200: jsonBody(replaceResultSchema, 'The captions changed (or that would change)'),
    ...BAD_REQUEST,
    ...DATASET_NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const settingsRoute = createRoute({
  method: 'put',
  path: '/api/datasets/{name}/settings',
  summary: "Set the dataset's trigger word (kept in its `dataset.json`); null clears it",
  request: { params, body: json(settingsBodySchema) },
  responses: {
    200: jsonBody(datasetSummarySchema, 'The dataset'),
    ...BAD_REQUEST,
    ...DATASET_NOT_FOUND,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const reportRoute = createRoute({
  method: 'get',
  path: '/api/datasets/{name}/report',
  summary: "The newest finished `prepare` job's report on the dataset: each picture ok, warned or excluded, and why",
  request: { params },
  responses: {
    200: jsonBody(datasetReportSchema, 'The report'),
    ...BAD_REQUEST,
    404: jsonBody(errorBodySchema, 'No such dataset (`dataset_not_found`) or no report yet (`no_report`)'),
    ...REFUSED_RESPONSES,
  },
});

export interface DatasetRouteOptions {
  /** Limits of one upload (files, bytes per file, bytes in all); the server's defaults unless a test shrinks them. */
  uploadLimits?: ZipLimits;
}

export function datasetRoutes({ store, workspace }: RouteDeps, options: DatasetRouteOptions = {}) {
  const limits = options.uploadLimits ?? DEFAULT_ZIP_LIMITS;
  const clipBpe = lazyClipBpe();
  const lint = (folder: DatasetFolder, caption: string, file: string | null) =>
    lintCaption({
      caption,
      file,
      captions: readCaptions(folder, imageFiles(folder)),
      triggerWord: triggerWordOf(readSettings(folder)),
      bpe: clipBpe(),
    });

  const router = createRouter()
    .openapi(listRoute, (c) => c.json({ datasets: listDatasets(workspace) }, 200))
    .openapi(createDatasetRoute, (c) => {
      const folder = createDataset(workspace, c.req.valid('json').name);
      return c.json(summarizeDataset(folder), 201);
    })
    .openapi(uploadRoute(limits), async (c) => {
      const folder = findDataset(workspace, c.req.valid('param').name);
      const sources = isZip(c.req.header('content-type'))
        ? zipSources(new Uint8Array(await c.req.arrayBuffer()), limits)
        : formSources(filesOf(c.req.valid('form')), limits);
      const { added, skipped } = await addToDataset(folder, sources);
      return c.json({ dataset: summarizeDataset(folder), added, skipped }, 200);
    })
    .openapi(detailRoute, async (c) => {
      const folder = findDataset(workspace, c.req.valid('param').name);
      const images = await readDatasetImages(folder);
      const detail = {
        name: folder.name,
        path: datasetPath(folder.name),
        trigger_word: triggerWordOf(readSettings(folder)),
        images,
      };
      return c.json(detail, 200);
    })
    .openapi(captionRoute, (c) => {
      const folder = findDataset(workspace, c.req.valid('param').name);
      const { file, caption } = c.req.valid('json');
      const text = caption.trim();
      writeCaption(folder, file, text);
      return c.json({ file, caption: text, lint: lint(folder, text, file) }, 200);
    })
    .openapi(lintRoute, (c) => {
      const folder = findDataset(workspace, c.req.valid('param').name);
      const { caption, file } = c.req.valid('json');
      return c.json(lint(folder, caption.trim(), file ?? null), 200);
    })
    .openapi(replaceRoute, (c) => {
      const folder = findDataset(workspace, c.req.valid('param').name);
      const { find, replace, dry_run } = c.req.valid('json');
      const changed = planReplace(readCaptions(folder, imageFiles(folder)), find, replace).map((change) => ({
        ...change,
        after: change.after.trim(),
      }));
      if (!dry_run) for (const change of changed) writeCaption(folder, change.file, change.after);
      return c.json({ changed }, 200);
    })
    .openapi(settingsRoute, (c) => {
      const folder = findDataset(workspace, c.req.valid('param').name);
      const { trigger_word } = c.req.valid('json');
      writeSettings(folder, { ...readSettings(folder), trigger_word });
      return c.json(summarizeDataset(folder), 200);
    })
    .openapi(reportRoute, async (c) => {
      const { name } = c.req.valid('param');
      findDataset(workspace, name);
      return c.json(await readDatasetReport(store, workspace, name), 200);
    });
  return router;
}

/** Uploads skip the app's 1 MiB JSON limit; this one allows the upload limits plus room for the form or zip framing. */
function uploadBodyLimit(limits: ZipLimits): MiddlewareHandler {
  const maxSize = uploadBodyLimitBytes(limits);
  const tooLarge: ErrorBody = {
    error: {
      code: 'upload_too_large',
      message: `the upload is larger than ${maxSize} bytes`,
      hint: `send at most ${limits.maxTotalBytes} bytes of files at once, in several uploads if need be`,
      field: 'body',
    },
  };
  return bodyLimit({ maxSize, onError: (c) => c.json(tooLarge, 413) });
}

function isZip(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/zip';
}

/** The validated form's files; the zip schema is in the union only because both bodies are declared. */
function filesOf(form: { files?: File | File[] | undefined } | string): File[] {
  // A request with no body at all gets here with `{}`: no files, which the upload check refuses.
  if (typeof form === 'string' || form.files === undefined) return [];
  return Array.isArray(form.files) ? form.files : [form.files];
}

/** The CLIP merges (about 0.5 MB) are read on the first lint, not at server start, then kept with their word cache. */
function lazyClipBpe(): () => ClipBpe {
  let bpe: ClipBpe | null = null;
  return () => {
    bpe ??= readClipBpe(CLIP_TOKENIZER_DIR);
    return bpe;
  };
}

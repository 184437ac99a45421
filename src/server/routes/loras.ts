// LoRA files in the workspace: list, inspect, download as kohya or diffusers, keep a checkpoint.
import { Readable } from 'node:stream';
import { createRoute, z } from '@hono/zod-openapi';
import type { RouteDeps } from '../app.js';
import {
  inspectReportSchema,
  keepBodySchema,
  keepTrainedLora,
  keptLoraSchema,
  listWorkspaceLoras,
  loraDownloadQuerySchema,
  loraListSchema,
  loraPathQuerySchema,
  openLoraFile,
  prepareLoraDownload,
} from '../loras/index.js';
import { createRouter } from '../router.js';
import { errorBodySchema, jobIdParamsSchema } from '../schemas.js';
import { BAD_REQUEST, jsonBody, REFUSED_RESPONSES, BODY_REFUSED } from './responses.js';

const NO_SUCH_FILE = { 404: jsonBody(errorBodySchema, 'No file at that path') } as const;
const OUTSIDE = {
  400: jsonBody(errorBodySchema, 'A missing or bad query field, an absolute or `..` path, or a file that is no LoRA'),
  403: jsonBody(errorBodySchema, 'A path that leads out of the workspace through a symlink, or a refused request'),
} as const;

const listLoras = createRoute({
  method: 'get',
  path: '/api/loras',
  summary:
    'The LoRA files of the workspace (kohya or diffusers keys), newest first, each with the train job that wrote it',
  responses: { 200: jsonBody(loraListSchema, 'The LoRAs'), ...REFUSED_RESPONSES },
});

const inspectLora = createRoute({
  method: 'get',
  path: '/api/loras/inspect',
  summary: 'What `lora-scripts inspect FILE --json` reports: format, family, ranks, alphas, layers, training, hashes',
  request: { query: loraPathQuerySchema },
  responses: {
    200: jsonBody(inspectReportSchema, 'The inspect report'),
    ...REFUSED_RESPONSES,
    ...OUTSIDE,
    ...NO_SUCH_FILE,
  },
});

const downloadLora = createRoute({
  method: 'get',
  path: '/api/loras/download',
  summary: 'The LoRA file as an attachment, converted to the other key format when `format` asks for it',
  request: { query: loraDownloadQuerySchema },
  responses: {
    200: {
      description: 'The .safetensors file; Content-Disposition names it (`<stem>-<format>.safetensors` when converted)',
      content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } },
    },
    ...REFUSED_RESPONSES,
    ...OUTSIDE,
    ...NO_SUCH_FILE,
  },
});

const keepLora = createRoute({
  method: 'post',
  path: '/api/jobs/{id}/keep',
  summary:
    'Copy the LoRA a train job saved at `step` next to its final file, as `<output_name>-step<step>.safetensors`',
  request: {
    params: jobIdParamsSchema,
    body: { required: true, content: { 'application/json': { schema: keepBodySchema } } },
  },
  responses: {
    200: jsonBody(keptLoraSchema, 'The kept copy'),
    ...BAD_REQUEST,
    404: jsonBody(errorBodySchema, 'No job with that id, or no LoRA saved at that step; the hint lists the steps'),
    409: jsonBody(errorBodySchema, 'The job is not a train job'),
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

export function loraRoutes({ store, workspace }: RouteDeps) {
  return createRouter()
    .openapi(listLoras, async (c) => {
      const trainJobs = await store.listJobs({ kind: 'train' });
      return c.json({ loras: listWorkspaceLoras(workspace, trainJobs) }, 200);
    })
    .openapi(inspectLora, (c) => {
      const { path } = c.req.valid('query');
      return c.json(openLoraFile(workspace, path, { shouldHash: true }).report, 200);
    })
    .openapi(downloadLora, async (c) => {
      const { path, format } = c.req.valid('query');
      const download = await prepareLoraDownload(workspace, path, format);
      return new Response(Readable.toWeb(download.stream) as ReadableStream<Uint8Array>, {
        status: 200,
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(download.bytes),
          'content-disposition': download.contentDisposition,
          // A converted copy is made per request; the file itself may change with the next training.
          'cache-control': 'no-store',
          'x-content-type-options': 'nosniff',
        },
      });
    })
    .openapi(keepLora, async (c) => {
      const { id } = c.req.valid('param');
      const { step } = c.req.valid('json');
      return c.json({ path: await keepTrainedLora({ store, workspace, jobId: id, step }) }, 200);
    });
}

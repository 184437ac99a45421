// The jobs resource: list, read, read the log, cancel. Creating jobs and running them come with the job runner.
import { createRoute } from '@hono/zod-openapi';
import { type JobStore, jobNotFound } from '../../store/index.js';
import { createRouter } from '../router.js';
import {
  cancelBodySchema,
  jobIdParamsSchema,
  jobListSchema,
  jobLogSchema,
  jobResponseSchema,
  LOG_LINES_PER_PAGE,
  listJobsQuerySchema,
  readLogQuerySchema,
} from '../schemas.js';
import { BAD_REQUEST, CONFLICT, jsonBody, NOT_FOUND, REFUSED_RESPONSES, BODY_REFUSED } from './responses.js';

const listJobs = createRoute({
  method: 'get',
  path: '/api/jobs',
  summary: 'Jobs, newest first, filtered by status and kind',
  request: { query: listJobsQuerySchema },
  responses: { 200: jsonBody(jobListSchema, 'The jobs'), ...BAD_REQUEST, ...REFUSED_RESPONSES },
});

const getJob = createRoute({
  method: 'get',
  path: '/api/jobs/{id}',
  summary: 'One job',
  request: { params: jobIdParamsSchema },
  responses: { 200: jsonBody(jobResponseSchema, 'The job'), ...NOT_FOUND, ...REFUSED_RESPONSES },
});

const readLog = createRoute({
  method: 'get',
  path: '/api/jobs/{id}/log',
  summary: `The job's log from line \`from\` on, at most ${LOG_LINES_PER_PAGE} lines; page on with \`from=next\``,
  request: { params: jobIdParamsSchema, query: readLogQuerySchema },
  responses: { 200: jsonBody(jobLogSchema, 'Log lines'), ...BAD_REQUEST, ...NOT_FOUND, ...REFUSED_RESPONSES },
});

const cancelJob = createRoute({
  method: 'post',
  path: '/api/jobs/{id}/cancel',
  summary: 'Cancel a queued, running or interrupted job',
  request: {
    params: jobIdParamsSchema,
    body: { required: false, content: { 'application/json': { schema: cancelBodySchema } } },
  },
  responses: {
    200: jsonBody(jobResponseSchema, 'The cancelled job'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...CONFLICT,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

export function jobRoutes(store: JobStore) {
  return createRouter()
    .openapi(listJobs, async (c) => c.json({ jobs: await store.listJobs(c.req.valid('query')) }, 200))
    .openapi(getJob, async (c) => {
      const { id } = c.req.valid('param');
      const job = await store.getJob(id);
      if (job === null) throw jobNotFound(id);
      return c.json(job, 200);
    })
    .openapi(readLog, async (c) => {
      const { id } = c.req.valid('param');
      const { from } = c.req.valid('query');
      const lines = await store.readLog(id, { fromLine: from, limit: LOG_LINES_PER_PAGE });
      const next = lines.length > 0 ? lines[lines.length - 1]!.line_no + 1 : from;
      return c.json({ lines, next }, 200);
    })
    .openapi(cancelJob, async (c) => {
      const { id } = c.req.valid('param');
      return c.json(await store.applyEvent(id, { type: 'cancel' }), 200);
    });
}

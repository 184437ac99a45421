// Putting jobs on the queue: submit a new one, resume an interrupted one. The runner takes them from there.
import { createRoute, z } from '@hono/zod-openapi';
import type { JobStore } from '../../store/index.js';
import { createRouter } from '../router.js';
import { DEFAULT_DEVICE, resolveTrainConfig } from '../runner/index.js';
import { cancelBodySchema, jobIdParamsSchema, jobResponseSchema } from '../schemas.js';
import { BAD_REQUEST, CONFLICT, jsonBody, NOT_FOUND, REFUSED_RESPONSES, TOO_LARGE } from './responses.js';

/** The job kinds the server runs so far; the others come with their executors. */
export const SUBMITTABLE_KINDS = ['train'] as const;

const newJobBodySchema = z
  .strictObject({
    kind: z.enum(SUBMITTABLE_KINDS, {
      error: `send one of the kinds this server runs now: ${SUBMITTABLE_KINDS.map((kind) => `\`${kind}\``).join(', ')}`,
    }),
    /** The config as `train --config` takes it, as JSON; paths are relative to the workspace. */
    config: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'NewJob' });

const submitJob = createRoute({
  method: 'post',
  path: '/api/jobs',
  summary: 'Queue a job; its config is checked like `train --config` and its paths must be in the workspace',
  request: { body: { required: true, content: { 'application/json': { schema: newJobBodySchema } } } },
  responses: {
    201: jsonBody(jobResponseSchema, 'The queued job'),
    ...BAD_REQUEST,
    ...TOO_LARGE,
    ...REFUSED_RESPONSES,
  },
});

const resumeJob = createRoute({
  method: 'post',
  path: '/api/jobs/{id}/resume',
  summary: 'Queue an interrupted job again; it goes on from its last saved training state',
  request: {
    params: jobIdParamsSchema,
    body: { required: false, content: { 'application/json': { schema: cancelBodySchema } } },
  },
  responses: {
    200: jsonBody(jobResponseSchema, 'The queued job'),
    ...BAD_REQUEST,
    ...NOT_FOUND,
    ...CONFLICT,
    ...TOO_LARGE,
    ...REFUSED_RESPONSES,
  },
});

export interface JobQueueDeps {
  store: JobStore;
  workspace: string;
  /** Tells the runner a job was queued, so it starts without waiting for its next poll. */
  onQueued: () => void;
}

export function jobQueueRoutes({ store, workspace, onQueued }: JobQueueDeps) {
  return createRouter()
    .openapi(submitJob, async (c) => {
      const { config } = c.req.valid('json');
      resolveTrainConfig(config, workspace);
      const job = await store.createJob({ kind: 'train', device: DEFAULT_DEVICE, config });
      onQueued();
      return c.json(job, 201);
    })
    .openapi(resumeJob, async (c) => {
      const { id } = c.req.valid('param');
      // `auto`, as `train --resume auto`: the newest saved state, or a new run when the job saved none.
      const job = await store.applyEvent(id, { type: 'resume', resume_from: 'auto' });
      onQueued();
      return c.json(job, 200);
    });
}

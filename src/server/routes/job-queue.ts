// Putting jobs on the queue: submit a new one, resume an interrupted one. The runner takes them from there.
import { createRoute, z } from '@hono/zod-openapi';
import type { JobStore } from '../../store/index.js';
import { createRouter } from '../router.js';
import {
  autoLabelJobConfigSchema,
  checkJobConfig,
  DEFAULT_DEVICE,
  generateJobConfigSchema,
  mergeJobConfigSchema,
  prepareJobConfigSchema,
} from '../runner/index.js';
import { cancelBodySchema, jobIdParamsSchema, jobResponseSchema } from '../schemas.js';
import { BAD_REQUEST, CONFLICT, jsonBody, NOT_FOUND, REFUSED_RESPONSES, BODY_REFUSED } from './responses.js';

/** The job kinds the server runs; each has its own config schema. */
export const SUBMITTABLE_KINDS = ['prepare', 'auto-label', 'train', 'generate', 'merge'] as const;

const KIND_ERROR = `send one of the kinds this server runs: ${SUBMITTABLE_KINDS.map((kind) => `\`${kind}\``).join(', ')}`;

/** A new job: its kind picks the schema of its config, so a bad config is a 400 naming `config.<field>`. */
const newJobBodySchema = z
  .discriminatedUnion(
    'kind',
    [
      z.strictObject({
        kind: z.literal('train'),
        /** The config as `train --config` takes it, as JSON; checked by config/schema.ts when submitted. */
        config: z.record(z.string(), z.unknown()),
      }),
      z.strictObject({ kind: z.literal('prepare'), config: prepareJobConfigSchema }),
      z.strictObject({ kind: z.literal('auto-label'), config: autoLabelJobConfigSchema }),
      z.strictObject({ kind: z.literal('generate'), config: generateJobConfigSchema }),
      z.strictObject({ kind: z.literal('merge'), config: mergeJobConfigSchema }),
    ],
    { error: (issue) => (issue.code === 'invalid_union' ? KIND_ERROR : undefined) },
  )
  .meta({ id: 'NewJob' });

const submitJob = createRoute({
  method: 'post',
  path: '/api/jobs',
  summary: "Queue a job; its config is checked against its kind's schema and its paths must be in the workspace",
  request: { body: { required: true, content: { 'application/json': { schema: newJobBodySchema } } } },
  responses: {
    201: jsonBody(jobResponseSchema, 'The queued job'),
    ...BAD_REQUEST,
    ...BODY_REFUSED,
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
    ...BODY_REFUSED,
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
      const { kind, config } = c.req.valid('json');
      checkJobConfig(kind, config, workspace);
      // Stored as sent (the executor applies the defaults), so the studio shows the job as it was asked for.
      const job = await store.createJob({ kind, device: DEFAULT_DEVICE, config });
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

// The queue's side of the studio (`serve --queue`): the live workers, and the dead-letter list of jobs that failed
// for good. Without a queue both lists are empty: every job runs in this server.
import { createRoute, z } from '@hono/zod-openapi';
import { deadLetterSchema, sharedQueueInspector, shownQueueUrl, workerInfoSchema } from '../../queue/index.js';
import type { RouteDeps } from '../app.js';
import { createRouter } from '../router.js';
import { BAD_REQUEST, jsonBody, REFUSED_RESPONSES } from './responses.js';

const workersResponseSchema = z
  .strictObject({
    /** The Redis the workers share (without its password), or null when jobs run in the server. */
    queue: z.string().nullable(),
    workers: z.array(workerInfoSchema),
  })
  .meta({ id: 'Workers' });

const deadLetterResponseSchema = z.strictObject({ jobs: z.array(deadLetterSchema) }).meta({ id: 'DeadLetters' });

const listWorkers = createRoute({
  method: 'get',
  path: '/api/workers',
  summary: 'The workers taking jobs from the queue now (each renews its entry every few seconds), by name',
  responses: { 200: jsonBody(workersResponseSchema, 'The live workers'), ...REFUSED_RESPONSES },
});

const listDeadLetters = createRoute({
  method: 'get',
  path: '/api/queue/dead-letter',
  summary: 'Jobs the queue gave up on (their last retry failed, or their own error), newest first, with the reason',
  request: {
    query: z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) }),
  },
  responses: {
    200: jsonBody(deadLetterResponseSchema, 'The dead-letter list'),
    ...BAD_REQUEST,
    ...REFUSED_RESPONSES,
  },
});

export function workerRoutes(deps: Pick<RouteDeps, 'queue'>) {
  const { queue } = deps;
  return createRouter()
    .openapi(listWorkers, async (c) => {
      if (queue === undefined) return c.json({ queue: null, workers: [] }, 200);
      return c.json({ queue: shownQueueUrl(queue), workers: await sharedQueueInspector(queue).workers() }, 200);
    })
    .openapi(listDeadLetters, async (c) => {
      const { limit } = c.req.valid('query');
      if (queue === undefined) return c.json({ jobs: [] }, 200);
      return c.json({ jobs: await sharedQueueInspector(queue).deadLetters(limit) }, 200);
    });
}

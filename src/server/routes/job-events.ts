// A job's typed updates (progress, samples, checkpoints, findings, log, status) as a JSON page and as server-sent events.
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import {
  type JobStatus,
  type JobUpdate,
  jobNotFound,
  jobUpdateMetaSchema,
  newJobUpdateSchema,
} from '../../store/index.js';
import type { RouteDeps } from '../app.js';
import { createJobFeeds, type JobFeeds } from '../job-feed.js';
import { createRouter } from '../router.js';
import { errorBodySchema, jobIdParamsSchema, wholeNumber } from '../schemas.js';
import { DEFAULT_LIMITS, RequestRefused } from '../security/index.js';
import { BAD_REQUEST, jsonBody, NOT_FOUND, REFUSED_RESPONSES } from './responses.js';

/** The most updates one page returns; a client pages on with `after=next`. */
export const UPDATES_PER_PAGE = 1000;
/** A comment line this often keeps proxies and browsers from closing a quiet stream (a long step, a slow sample). */
const KEEP_ALIVE_MS = 15_000;
/** Statuses after which a job writes nothing more: its stream ends once they are sent. */
const FINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['done', 'failed', 'cancelled']);

const members = newJobUpdateSchema.options.map((member) => member.extend(jobUpdateMetaSchema.shape));
export const jobUpdateSchema = z
  .discriminatedUnion('type', members as unknown as [(typeof members)[number], ...(typeof members)[number][]])
  .meta({ id: 'JobUpdate' });

const jobUpdatesSchema = z
  .strictObject({
    events: z.array(jobUpdateSchema),
    /** Pass as `after` to read the updates written after these. */
    next: z.number().int().nonnegative(),
  })
  .meta({ id: 'JobUpdates' });

const afterQuerySchema = z.object({ after: wholeNumber(0, Number.MAX_SAFE_INTEGER).default(0) });

const readUpdates = createRoute({
  method: 'get',
  path: '/api/jobs/{id}/events',
  summary: `The job's updates after \`after\`, at most ${UPDATES_PER_PAGE}; page on with \`after=next\``,
  request: { params: jobIdParamsSchema, query: afterQuerySchema },
  responses: { 200: jsonBody(jobUpdatesSchema, 'Updates'), ...BAD_REQUEST, ...NOT_FOUND, ...REFUSED_RESPONSES },
});

const streamUpdates = createRoute({
  method: 'get',
  path: '/api/jobs/{id}/stream',
  summary:
    'Server-sent events: each update as `id: <seq>`, `event: <type>`, `data: <JobUpdate JSON>`, from `after` ' +
    '(or the Last-Event-ID of a reconnecting EventSource) on; ends after a done, failed or cancelled status',
  request: { params: jobIdParamsSchema, query: afterQuerySchema },
  responses: {
    200: { description: 'An event stream of JobUpdate', content: { 'text/event-stream': { schema: z.string() } } },
    ...BAD_REQUEST,
    ...NOT_FOUND,
    429: jsonBody(errorBodySchema, 'Too many streams are open on this server'),
    ...REFUSED_RESPONSES,
  },
});

export function jobEventRoutes({ store }: RouteDeps, feeds: JobFeeds = createJobFeeds(store)) {
  return createRouter()
    .openapi(readUpdates, async (c) => {
      const { id } = c.req.valid('param');
      const { after } = c.req.valid('query');
      const events = (await store.readUpdates(id, { after, limit: UPDATES_PER_PAGE })) as z.infer<
        typeof jobUpdateSchema
      >[];
      return c.json({ events, next: events.at(-1)?.seq ?? after }, 200);
    })
    .openapi(streamUpdates, async (c) => {
      const { id } = c.req.valid('param');
      if ((await store.getJob(id)) === null) throw jobNotFound(id);
      if (feeds.watcherCount() >= DEFAULT_LIMITS.openStreams) throw tooManyStreams();
      const after = Math.max(c.req.valid('query').after, lastEventId(c.req.header('last-event-id')));
      return streamSSE(c, (stream) => followJob(feeds, id, after, stream)) as never;
    });
}

type SseStream = Parameters<Parameters<typeof streamSSE>[1]>[0];

/** Sends the job's updates in order until its final status is sent or the client goes away. */
function followJob(feeds: JobFeeds, id: string, after: number, stream: SseStream): Promise<void> {
  return new Promise((finish) => {
    let writes = Promise.resolve();
    const send = (write: () => Promise<void>) => {
      writes = writes.then(write).catch(() => end());
    };
    const end = () => {
      unwatch();
      clearInterval(keepAlive);
      finish();
    };
    const unwatch = feeds.watch(id, after, (updates) => {
      for (const update of updates) {
        send(() => stream.writeSSE({ id: String(update.seq), event: update.type, data: serialized(update) }));
        if (isFinal(update)) send(async () => end());
      }
    });
    const keepAlive = setInterval(() => send(() => stream.write(': keep-alive\n\n').then(() => {})), KEEP_ALIVE_MS);
    stream.onAbort(end);
  });
}

/** Each update is serialized once, however many watchers it goes to (the feed hands them all the same object). */
const serializedUpdates = new WeakMap<JobUpdate, string>();
function serialized(update: JobUpdate): string {
  let json = serializedUpdates.get(update);
  if (json === undefined) {
    json = JSON.stringify(update);
    serializedUpdates.set(update, json);
  }
  return json;
}

function isFinal(update: JobUpdate): boolean {
  return update.type === 'status' && FINAL_STATUSES.has(update.status);
}

/** The id a reconnecting EventSource sends; anything but digits counts as none. */
function lastEventId(header: string | undefined): number {
  return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : 0;
}

function tooManyStreams(): RequestRefused {
  return new RequestRefused(429, `${DEFAULT_LIMITS.openStreams} job streams are open, the most this server keeps`, {
    code: 'too_many_streams',
  });
}

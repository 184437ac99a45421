// The studio's side of the job queue (`serve --queue`): queued store jobs go onto BullMQ, what workers report comes
// back into the store, cancels reach the worker running the job, and a restarted studio settles what happened while
// it was down. The store stays the one record of every job; Redis only carries the work.
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { JobStore } from '../store/index.js';
import { applyQueueEvent, failRun, type QueueEvent, settleRun } from './bridge.js';
import { JOB_QUEUE, QUEUE_PREFIX, type QueueLocation, redisConnectionOptions } from './connection.js';
import { DEFAULT_RETRY_POLICY, jobOptionsFor, type RetryPolicy } from './job-options.js';
import { BRIDGE_CURSOR_KEY, cancelKey, IN_FLIGHT_KEY, queueJobId, storeJobIdOf } from './keys.js';
import { failureReasonOf, runResultSchema } from './messages.js';
import { DEFAULT_QUEUE_TIMING, type QueueTiming } from './timing.js';

export interface QueueDispatcherOptions {
  store: JobStore;
  location: QueueLocation;
  timing?: QueueTiming;
  /** Runs per job before it goes to the dead-letter list (default 3). */
  attempts?: number;
  /** What the restart check found, as lines for the studio's start-up output. */
  log?: (line: string) => void;
  /** Where a failure of the dispatcher itself goes (a store or Redis that cannot be reached); default: stderr. */
  logError?: (error: unknown) => void;
}

/** The same shape as the in-process runner, so serve.ts and the routes need not know which one runs the jobs. */
export interface QueueDispatcher {
  /** Looks at the store now rather than at the next poll (a job was queued or cancelled). */
  wake(): void;
  /** Stops dispatching, writes what workers reported so far, closes its Redis connections. Workers go on. */
  stop(): Promise<void>;
}

/** Cancel keys outlive any job that could still be waiting for a worker. */
const CANCEL_KEY_TTL_S = 7 * 24 * 3600;
/** How often a running studio checks its jobs against the queue, and how old a job's end must be to settle it there. */
const RECHECK_EVERY_MS = 30_000;
const RECHECK_GRACE_MS = 30_000;
/** How long a restarted studio waits to write the events of its downtime before it checks its jobs anyway. */
const CATCH_UP_TIMEOUT_MS = 30_000;
/** Queue events the bridge has no use for; read all the same, so its cursor moves past them. */
const OTHER_EVENTS = [
  'active',
  'added',
  'cleaned',
  'deduplicated',
  'delayed',
  'drained',
  'duplicated',
  'paused',
  'removed',
  'resumed',
  'retries-exhausted',
  'stalled',
  'waiting',
  'waiting-children',
] as const;

/** @example const dispatcher = await startQueueDispatcher({ store, location: queueLocation('redis://…') }); */
export async function startQueueDispatcher({
  store,
  location,
  timing = DEFAULT_QUEUE_TIMING,
  attempts = DEFAULT_RETRY_POLICY.attempts,
  log = () => {},
  logError = logToStderr,
}: QueueDispatcherOptions): Promise<QueueDispatcher> {
  const connection = redisConnectionOptions(location);
  const retry: RetryPolicy = { attempts, backoffMs: timing.backoffMs };
  const queue = new Queue(JOB_QUEUE, { connection, prefix: QUEUE_PREFIX });
  const redis = new Redis(location.url, { maxRetriesPerRequest: null });
  const forget = (id: string, queueId: string) => forgetInFlight(redis, id, queueId);

  // The bridge, the dispatch and the checks take turns: a run's start (interrupt, resume, start of a job whose last
  // run died) must never be seen half-done by a dispatch, which would queue the job a second time.
  const exclusive = createMutex();
  const bridge = await startBridge({ store, redis, connection, forget, exclusive, logError });
  await bridge.caughtUp;
  const check = (graceMs: number) => exclusive(() => reconcile({ store, queue, redis, forget, graceMs }));
  for (const line of await check(0)) log(line);

  let lastCheck = Date.now();
  const tick = async () => {
    await exclusive(async () => {
      await dispatchQueued(store, queue, redis, retry);
      await stopCancelled(store, queue, redis, forget);
    });
    // Now and then, the restart check again: a job whose end the bridge missed (a store write that failed) is settled
    // from the queue's record once that end is old enough for its events to have been read.
    if (Date.now() - lastCheck >= RECHECK_EVERY_MS) {
      lastCheck = Date.now();
      for (const line of await check(RECHECK_GRACE_MS)) log(line);
    }
  };
  const loop = createTickLoop(tick, timing.pollMs, logError);
  let stopped: Promise<void> | undefined;
  return {
    wake: loop.wake,
    stop() {
      stopped ??= (async () => {
        await loop.stop();
        await bridge.stop();
        await queue.close();
        await redis.quit();
      })();
      return stopped;
    },
  };
}

/** Every queued store job onto the queue, oldest first, as `<id>.<attempts + 1>`; BullMQ ignores an id it has. */
async function dispatchQueued(store: JobStore, queue: Queue, redis: Redis, retry: RetryPolicy): Promise<void> {
  const inFlight = await redis.hgetall(IN_FLIGHT_KEY);
  const queued = (await store.listJobs({ status: 'queued' })).reverse();
  for (const job of queued) {
    const queueId = queueJobId(job.id, job.attempts);
    if (inFlight[job.id] === queueId) continue;
    // Recorded first: a studio that dies between the two lines finds the id and adds the job again (a no-op if done).
    await redis.hset(IN_FLIGHT_KEY, job.id, queueId);
    await queue.add(job.kind, job, jobOptionsFor(job.kind, queueId, retry));
  }
}

/** Jobs cancelled in the store: taken off the queue if they wait; told to stop (a key their worker polls) if they run. */
async function stopCancelled(
  store: JobStore,
  queue: Queue,
  redis: Redis,
  forget: (id: string, queueId: string) => Promise<void>,
): Promise<void> {
  for (const [id, queueId] of Object.entries(await redis.hgetall(IN_FLIGHT_KEY))) {
    const job = await store.getJob(id);
    // Interrupted jobs keep their entry: the job is between runs (a resume puts the next run's id there).
    if (job !== null && (job.status === 'queued' || job.status === 'running' || job.status === 'interrupted')) continue;
    if (job?.status === 'cancelled') {
      await redis.set(cancelKey(queueId), '1', 'EX', CANCEL_KEY_TTL_S);
      // 0 when a worker holds it: the cancel key stops it there.
      await queue.remove(queueId);
    }
    await forget(id, queueId);
  }
}

/** Drops the store job's entry unless it already names a newer run. */
async function forgetInFlight(redis: Redis, id: string, queueId: string): Promise<void> {
  await redis.eval(
    "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0",
    1,
    IN_FLIGHT_KEY,
    id,
    queueId,
  );
}

interface BridgeOptions {
  store: JobStore;
  redis: Redis;
  connection: ReturnType<typeof redisConnectionOptions>;
  forget: (id: string, queueId: string) => Promise<void>;
  exclusive: Mutex;
  logError: (error: unknown) => void;
}

/**
 * Reads the queue's event stream from where the studio last stopped and writes each event into the store, one after
 * another in stream order. `caughtUp` resolves once the events written while the studio was down are in.
 */
async function startBridge({ store, redis, connection, forget, exclusive, logError }: BridgeOptions) {
  const cursor = await redis.get(BRIDGE_CURSOR_KEY);
  const eventsKey = `${QUEUE_PREFIX}:${JOB_QUEUE}:events`;
  const newest = (await redis.xrevrange(eventsKey, '+', '-', 'COUNT', 1))[0]?.[0] ?? null;
  const events = new QueueEvents(JOB_QUEUE, { connection, prefix: QUEUE_PREFIX, lastEventId: cursor ?? '$' });
  let markCaughtUp: () => void = () => {};
  const caughtUp = new Promise<void>((done) => {
    markCaughtUp = done;
  });
  if (cursor === null || newest === null || compareStreamIds(cursor, newest) >= 0) markCaughtUp();

  let tail: Promise<void> = Promise.resolve();
  const enqueue = (event: QueueEvent | null, eventId: string) => {
    tail = tail
      .then(async () => {
        if (event !== null) {
          const { settled } = await exclusive(() => applyQueueEvent(store, event));
          if (settled) await forget(storeJobIdOf(event.queueJobId), event.queueJobId);
        }
        await redis.set(BRIDGE_CURSOR_KEY, eventId);
        if (newest !== null && compareStreamIds(eventId, newest) >= 0) markCaughtUp();
      })
      .catch(logError);
  };
  events.on('progress', ({ jobId, data }, id) => enqueue({ type: 'progress', queueJobId: jobId, data }, id));
  events.on('completed', ({ jobId, returnvalue }, id) =>
    enqueue({ type: 'completed', queueJobId: jobId, result: returnvalue }, id),
  );
  events.on('failed', ({ jobId, failedReason }, id) =>
    enqueue({ type: 'failed', queueJobId: jobId, reason: failureReasonOf(failedReason) }, id),
  );
  const onOther = (...args: unknown[]) => enqueue(null, args.at(-1) as string);
  for (const name of OTHER_EVENTS) events.on(name, onOther);
  events.on('error', logError);
  await events.waitUntilReady();
  const timeout = new Promise<void>((done) => setTimeout(done, CATCH_UP_TIMEOUT_MS).unref());
  return {
    caughtUp: Promise.race([caughtUp, timeout]),
    async stop() {
      await events.close();
      await tail;
    },
  };
}

/** Redis stream ids `<ms>-<seq>` in order. */
function compareStreamIds(a: string, b: string): number {
  const [aMs = 0n, aSeq = 0n] = a.split('-').map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split('-').map(BigInt);
  if (aMs !== bMs) return aMs < bMs ? -1 : 1;
  return aSeq === bSeq ? 0 : aSeq < bSeq ? -1 : 1;
}

interface ReconcileOptions {
  store: JobStore;
  queue: Queue;
  redis: Redis;
  forget: (id: string, queueId: string) => Promise<void>;
  /** 0 at start; later, only ends at least this old are settled from the queue (their events may still be coming). */
  graceMs: number;
}

/**
 * A restarted studio's look at its queued and running jobs: one that ended on the queue while the studio was down
 * is settled from BullMQ's record; one whose queue job is gone (Redis emptied) is queued again from its saved state.
 * Returns what it did, as lines.
 */
async function reconcile({ store, queue, redis, forget, graceMs }: ReconcileOptions): Promise<string[]> {
  const inFlight = await redis.hgetall(IN_FLIGHT_KEY);
  const lines: string[] = [];
  const jobs = [...(await store.listJobs({ status: 'running' })), ...(await store.listJobs({ status: 'queued' }))];
  for (const job of jobs) {
    const queueId = inFlight[job.id];
    // A queued job not yet on the queue, or queued again since its entry: the dispatcher adds it.
    if (job.status === 'queued' && queueId !== queueJobId(job.id, job.attempts)) continue;
    const state = queueId === undefined ? 'unknown' : await queue.getJobState(queueId);
    if (state === 'completed' || state === 'failed') {
      const queueJob = await queue.getJob(queueId as string);
      if (Date.now() - (queueJob?.finishedOn ?? 0) < graceMs) continue;
      if (state === 'completed') {
        const result = runResultSchema.safeParse(queueJob?.returnvalue);
        await settleRun(store, job.id, result.success ? result.data : { status: 'done', outputs: [] });
      } else {
        await failRun(store, job.id, failureReasonOf(queueJob?.failedReason));
      }
      await forget(job.id, queueId as string);
      lines.push(
        `job ${job.id} ${state === 'completed' ? 'ended' : 'failed'} on the queue unseen; settled from its record`,
      );
    } else if (state === 'unknown') {
      if (queueId !== undefined) await forget(job.id, queueId);
      if (job.status === 'running') {
        await store.applyEvent(job.id, { type: 'interrupt' });
        await store.applyEvent(job.id, { type: 'resume', resume_from: 'auto' });
        lines.push(`job ${job.id} was running but is no longer on the queue; queued again from its last saved state`);
      }
    }
  }
  return lines;
}

type Mutex = <T>(work: () => Promise<T>) => Promise<T>;

/** Runs each `work` after the previous one ended, whatever its outcome. */
function createMutex(): Mutex {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };
}

/** Runs `tick` every `pollMs` and at each `wake()`, never two at once. */
function createTickLoop(tick: () => Promise<void>, pollMs: number, logError: (error: unknown) => void) {
  let stopping = false;
  let wakeUp: (() => void) | null = null;
  let isWoken = false;
  const run = async () => {
    while (!stopping) {
      isWoken = false;
      await tick().catch(logError);
      if (stopping || isWoken) continue;
      await new Promise<void>((done) => {
        const timer = setTimeout(done, pollMs);
        wakeUp = () => {
          clearTimeout(timer);
          done();
        };
      });
      wakeUp = null;
    }
  };
  const running = run();
  return {
    wake(): void {
      isWoken = true;
      wakeUp?.();
    },
    async stop(): Promise<void> {
      stopping = true;
      wakeUp?.();
      await running;
    },
  };
}

function logToStderr(error: unknown): void {
  process.stderr.write(`studio queue: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

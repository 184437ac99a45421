// A worker's side of the job queue: takes store jobs from BullMQ, runs them with the studio's own executors, and
// reports everything back through the queue (it needs no database). One process per machine (`lora-scripts worker`).
import { hostname } from 'node:os';
import { type Job as QueueJob, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { LoraScriptsError } from '../errors.js';
import type { JobExecutor } from '../server/runner/index.js';
import { jobErrorOf } from '../server/runner/index.js';
import { type Job, jobSchema } from '../store/index.js';
import { JOB_QUEUE, QUEUE_PREFIX, type QueueLocation, redisConnectionOptions } from './connection.js';
import { cancelKey } from './keys.js';
import type { RunResult, WorkerMessage } from './messages.js';
import { startHeartbeat } from './registry.js';
import { DEFAULT_QUEUE_TIMING, type QueueTiming } from './timing.js';

export interface QueueWorkerOptions {
  location: QueueLocation;
  /** Runs one job (the CLI passes the studio's `executorForKind`). */
  execute: JobExecutor;
  /** How the studio lists this worker; unique on the cluster. */
  name: string;
  /** Jobs run at once. */
  concurrency?: number;
  /** Shown in the worker list (`--device`). */
  device?: string;
  timing?: QueueTiming;
  /** Where a failure of the worker itself goes (Redis gone…); default: stderr. */
  logError?: (error: unknown) => void;
}

export interface QueueWorker {
  name: string;
  /** Stops taking jobs, stops the running ones as interrupted (the studio queues them again) and closes. */
  stop(): Promise<void>;
}

/** Engine failures that another run (maybe on another machine) can get past; any other LoraScriptsError is the job's. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['engine_crashed', 'interrupted']);

interface RunningJob {
  storeId: string;
  controller: AbortController;
  /** Why the worker stopped it, when it did. */
  stoppedAs: 'cancelled' | 'interrupted' | null;
}

/** @example const worker = startQueueWorker({ location, name: 'gpu-box-1', execute: executorForKind({ workspace, env }) }); */
export function startQueueWorker({
  location,
  execute,
  name,
  concurrency = 1,
  device = 'auto',
  timing = DEFAULT_QUEUE_TIMING,
  logError = logToStderr,
}: QueueWorkerOptions): QueueWorker {
  const redis = new Redis(location.url, { maxRetriesPerRequest: null });
  const running = new Map<string, RunningJob>();
  const startedAt = new Date().toISOString();

  const stop = (run: RunningJob, as: 'cancelled' | 'interrupted') => {
    run.stoppedAs ??= as;
    run.controller.abort();
  };

  const processJob = async (queueJob: QueueJob): Promise<RunResult> => {
    const queueId = queueJob.id as string;
    const parsed = jobSchema.safeParse(queueJob.data);
    if (!parsed.success) {
      // Not a studio job (another tool on these keys, another version): no run would go better.
      const reason = { code: 'bad_queue_job', message: `not a job record: ${parsed.error.issues[0]?.message}` };
      throw new UnrecoverableError(JSON.stringify(reason));
    }
    const stored = parsed.data;
    if ((await redis.exists(cancelKey(queueId))) === 1) return { status: 'cancelled' };
    // Delivered again: its last run died with its worker, or crashed and is retried. A training goes on from its
    // last saved state (`auto` starts afresh when the dead run saved none).
    const resumed = queueJob.attemptsMade > 0 || queueJob.stalledCounter > 0;
    const job: Job = resumed && stored.kind === 'train' ? { ...stored, resume_from: 'auto' } : stored;
    const run: RunningJob = { storeId: job.id, controller: new AbortController(), stoppedAs: null };
    running.set(queueId, run);
    if (stopping) stop(run, 'interrupted');
    const outbox = createOutbox(queueJob, timing.flushMs, logError);
    outbox.send({ type: 'start', worker: name, resumed });
    try {
      const outputs = await execute(job, {
        signal: run.controller.signal,
        log: (lines, { toWatchers = true } = {}) =>
          outbox.send({ type: 'log', lines: [...lines], to_watchers: toWatchers }),
        progress: (progress) => outbox.send({ type: 'progress', progress }),
        update: (update) => outbox.send({ type: 'update', update }),
      });
      return { status: 'done', outputs };
    } catch (error) {
      if (run.stoppedAs !== null) return { status: run.stoppedAs };
      const reason = jobErrorOf(error);
      const isJobsOwn = error instanceof LoraScriptsError && !TRANSIENT_CODES.has(error.code);
      const attemptsLeft = (queueJob.opts.attempts ?? 1) - queueJob.attemptsMade - 1;
      if (!isJobsOwn && attemptsLeft > 0) {
        const line = `run failed (${reason.code}: ${reason.message}); ${attemptsLeft} more run(s) to go`;
        outbox.send({ type: 'log', lines: [line], to_watchers: true });
      }
      // The job's own error (a bad config, a missing file) fails the same way every time: no retries.
      throw isJobsOwn || error instanceof UnrecoverableError
        ? new UnrecoverableError(JSON.stringify(reason))
        : new Error(JSON.stringify(reason));
    } finally {
      // Every message is in Redis before BullMQ records the end, so the studio reads the end last.
      await outbox.close();
      running.delete(queueId);
    }
  };

  const worker = new Worker<unknown, RunResult>(JOB_QUEUE, processJob, {
    connection: redisConnectionOptions(location),
    prefix: QUEUE_PREFIX,
    name,
    concurrency,
    lockDuration: timing.lockMs,
    stalledInterval: timing.stalledCheckMs,
    maxStalledCount: timing.maxStalled,
  });
  worker.on('error', logError);
  // A worker that could not renew its claim (Redis unreachable, a frozen machine) may see its job given to another:
  // it stops the run rather than have two runs write the same output folder.
  worker.on('lockRenewalFailed', (queueIds) => {
    for (const queueId of queueIds) {
      const run = running.get(queueId);
      if (run) stop(run, 'interrupted');
    }
  });
  let stopping = false;

  const cancelWatch = setInterval(() => {
    for (const [queueId, run] of running) {
      redis
        .exists(cancelKey(queueId))
        .then((found) => {
          if (found === 1) stop(run, 'cancelled');
        })
        .catch(logError);
    }
  }, timing.pollMs);

  const heartbeat = startHeartbeat(
    redis,
    () => ({
      name,
      host: hostname(),
      pid: process.pid,
      device,
      concurrency,
      jobs: [...running.values()].map((run) => run.storeId),
      started_at: startedAt,
    }),
    timing.heartbeatMs,
  );

  let stopped: Promise<void> | undefined;
  return {
    name,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(cancelWatch);
        for (const run of running.values()) stop(run, 'interrupted');
        // Waits for the runs to end (the engine saves its state and stops) before closing.
        await worker.close();
        await heartbeat.stop().catch(logError);
        await redis.quit().catch(logError);
      })();
      return stopped;
    },
  };
}

/** Messages of one run, sent in batches as `updateProgress` calls that go out one after another, in order. */
function createOutbox(queueJob: QueueJob, flushMs: number, logError: (error: unknown) => void) {
  let pending: WorkerMessage[] = [];
  let sending: Promise<void> = Promise.resolve();
  const flush = () => {
    if (pending.length === 0) return;
    const messages = pending;
    pending = [];
    sending = sending.then(() => queueJob.updateProgress({ messages })).catch(logError);
  };
  const timer = setInterval(flush, flushMs);
  return {
    send(message: WorkerMessage): void {
      pending.push(message);
      // The start goes out at once: the studio shows the job running as soon as it is.
      if (message.type === 'start') flush();
    },
    async close(): Promise<void> {
      clearInterval(timer);
      flush();
      await sending;
    },
  };
}

function logToStderr(error: unknown): void {
  process.stderr.write(`worker: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

// The studio's side of the render queue: a RenderWorker whose renders run on `lora-scripts worker` processes. A render
// is one BullMQ job on RENDER_QUEUE; its answer (the PNGs, base64) comes back on the queue's events stream, which is
// capped (RENDER_EVENTS_MAX_LEN) so that old answers do not pile up in Redis. docs/scale-out.md, "Generation pool".
import { randomUUID } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { EngineError, InterruptedError, type LoraScriptsError } from '../errors.js';
import type {
  RenderedImage,
  RenderProgress,
  RenderRequest,
  RenderWorker,
  RenderWorkerStats,
} from '../render-worker/index.js';
import { QUEUE_PREFIX, type QueueLocation, RENDER_QUEUE, redisConnectionOptions } from './connection.js';
import {
  decodeImages,
  deserializeError,
  type QueuedRenderRequest,
  RENDER_CANCEL_CHANNEL,
  RENDER_JOB,
  RENDER_PRIORITIES,
  type RenderJobData,
  type RenderOutcome,
  toSharedPaths,
} from './render-protocol.js';

export interface QueueRenderWorkerOptions {
  /**
   * The studio's workspace: request paths inside it travel workspace-relative, and each worker finds
   * them in its own mount of the shared workspace. Paths outside it must exist at the same path on every worker.
   */
  workspace?: string;
  /** Redis connection trouble (the client keeps retrying; renders wait meanwhile). */
  onError?: (error: Error) => void;
}

/**
 * The events stream keeps about this many events (BullMQ's default is 10 000). A render's `completed` event carries
 * its PNGs, so the cap bounds what old answers cost in Redis: ~1 000 events hold the answers of the last few dozen
 * renders (with their progress events) — far more than any studio lags behind.
 */
export const RENDER_EVENTS_MAX_LEN = 1000;

interface Waiter {
  resolve: (images: RenderedImage[]) => void;
  reject: (error: Error) => void;
  onProgress: ((progress: RenderProgress) => void) | undefined;
  /** Settles once the job is in Redis (or could not be added): a cancel must not race the add. */
  added: Promise<void>;
  detach: () => void;
}

/** `queueRenderWorker(queueLocation('redis://…'), {workspace})`: the same contract as startRenderWorker's worker. */
export function queueRenderWorker(location: QueueLocation, options: QueueRenderWorkerOptions = {}): RenderWorker {
  return new QueueRenderClient(location, options);
}

class QueueRenderClient implements RenderWorker {
  private readonly queue: Queue<RenderJobData, RenderOutcome>;
  /** Publishes cancels and reads where the events stream ends; BullMQ's connections are its own. */
  private readonly redis: Redis;
  private events: QueueEvents | undefined;
  private readonly ready: Promise<void>;
  private readonly waiting = new Map<string, Waiter>();
  /** The latest counts each worker reported with an answer to this studio. */
  private readonly workerStats = new Map<string, RenderWorkerStats>();
  private renders = 0;
  private closed = false;
  /** The workspace as given and its real path: the cover service and the A1111 API build paths from either. */
  private readonly workspaces: string[];

  constructor(
    private readonly location: QueueLocation,
    private readonly options: QueueRenderWorkerOptions,
  ) {
    const given = options.workspace === undefined ? [] : [resolve(options.workspace)];
    this.workspaces = [...new Set([...given, ...given.map((w) => realpathSync(w))])];
    const onError = (error: Error) => options.onError?.(error);
    this.queue = new Queue(RENDER_QUEUE, {
      connection: redisConnectionOptions(location),
      prefix: QUEUE_PREFIX,
      streams: { events: { maxLen: RENDER_EVENTS_MAX_LEN } },
    });
    this.queue.on('error', onError);
    this.redis = new Redis(location.url, { maxRetriesPerRequest: null, lazyConnect: false });
    this.redis.on('error', onError);
    this.ready = this.listen();
    this.ready.catch(() => undefined); // reported by the render that awaits it
  }

  /**
   * Reads the events stream from where it ends now, not from `$` when the first read happens: an answer that comes
   * between the two would otherwise be missed and its render would wait forever.
   */
  private async listen(): Promise<void> {
    const [last] = await this.redis.xrevrange(this.queue.keys.events!, '+', '-', 'COUNT', 1);
    if (this.closed) return;
    const events = new QueueEvents(RENDER_QUEUE, {
      connection: redisConnectionOptions(this.location),
      prefix: QUEUE_PREFIX,
      autorun: false,
      lastEventId: last?.[0] ?? '0-0',
    });
    this.events = events;
    events.on('error', (error) => this.options.onError?.(error));
    events.on('completed', ({ jobId, returnvalue }) => this.answer(jobId, returnvalue as unknown as RenderOutcome));
    events.on('failed', ({ jobId, failedReason }) => this.settle(jobId, (w) => w.reject(queueFailure(failedReason))));
    events.on('progress', ({ jobId, data }) =>
      this.waiting.get(jobId)?.onProgress?.(data as unknown as RenderProgress),
    );
    void events.run().catch((error: Error) => this.options.onError?.(error));
    await events.waitUntilReady();
  }

  stats(): RenderWorkerStats {
    const sum = (key: 'base_loads' | 'lora_loads') =>
      [...this.workerStats.values()].reduce((total, stats) => total + stats[key], 0);
    return { base_loads: sum('base_loads'), lora_loads: sum('lora_loads'), renders: this.renders };
  }

  async render(
    request: RenderRequest,
    signal?: AbortSignal,
    onProgress?: (progress: RenderProgress) => void,
  ): Promise<RenderedImage[]> {
    if (this.closed) throw closedError();
    if (signal?.aborted) throw cancelledError();
    await this.ready;
    if (this.closed) throw closedError();
    if (signal?.aborted) throw cancelledError();
    const priority = RENDER_PRIORITIES[(request as QueuedRenderRequest).priority ?? 'interactive'];
    // Our own id, registered before the add: the answer may come back before `add` resolves.
    const jobId = randomUUID();
    return new Promise<RenderedImage[]>((resolve, reject) => {
      const onAbort = () => this.cancel(jobId);
      const added = this.queue
        .add(
          RENDER_JOB,
          { request: toSharedPaths(request, this.workspaces) },
          {
            jobId,
            priority,
            // The answer travels on the events stream; the job's own copy is not needed once it is done.
            removeOnComplete: true,
            removeOnFail: { age: 24 * 3600 },
          },
        )
        .then(
          () => undefined,
          (error: Error) => this.settle(jobId, (w) => w.reject(error)),
        );
      this.waiting.set(jobId, {
        resolve,
        reject,
        onProgress,
        added,
        detach: () => signal?.removeEventListener('abort', onAbort),
      });
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const jobId of [...this.waiting.keys()]) this.settle(jobId, (w) => w.reject(closedError()));
    await this.ready.catch(() => undefined);
    await Promise.allSettled([this.events?.close(), this.queue.close()]);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * The caller gets `render_cancelled` at once. A job still waiting is taken off the queue; one a worker already runs
   * (BullMQ refuses to remove a locked job) is stopped by that worker at its next sampling step.
   */
  private cancel(jobId: string): void {
    const waiter = this.waiting.get(jobId);
    if (!waiter) return;
    this.settle(jobId, (w) => w.reject(cancelledError()));
    void waiter.added
      .then(() => this.queue.remove(jobId))
      .then((removed) => (removed ? undefined : this.redis.publish(RENDER_CANCEL_CHANNEL, jobId)))
      .catch((error: Error) => this.options.onError?.(error));
  }

  private answer(jobId: string, outcome: RenderOutcome): void {
    if (!this.waiting.has(jobId)) return; // another studio's render, or one this studio gave up on
    this.workerStats.set(outcome.worker, outcome.stats);
    if ('images' in outcome) {
      this.renders += 1;
      this.settle(jobId, (w) => w.resolve(decodeImages(outcome.images)));
    } else {
      this.settle(jobId, (w) => w.reject(deserializeError(outcome.error)));
    }
  }

  private settle(jobId: string, outcome: (waiter: Waiter) => void): void {
    const waiter = this.waiting.get(jobId);
    if (!waiter) return;
    this.waiting.delete(jobId);
    waiter.detach();
    outcome(waiter);
  }
}

/** BullMQ failed the job itself: the worker died or stalled with it more often than allowed, or threw outside a render. */
function queueFailure(reason: string): LoraScriptsError {
  return new EngineError(`a render worker failed the render: ${reason}`, {
    code: 'render_worker_crashed',
    culprit: 'worker',
    hint: 'send it again (a live worker takes it); look at that worker’s log if it happens again',
  });
}

/** The local render worker's errors, word for word (src/render-worker/process.ts). */
function cancelledError(): LoraScriptsError {
  return new InterruptedError('the render was cancelled', {
    code: 'render_cancelled',
    hint: 'the request was cancelled; send it again to render it',
  });
}

function closedError(): LoraScriptsError {
  return new EngineError('the render worker was closed', {
    code: 'render_worker_closed',
    hint: 'the server is shutting down; send the request to a running server',
  });
}

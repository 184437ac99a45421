// A worker's side of the render queue: a BullMQ Worker on RENDER_QUEUE that answers render jobs with one warm render
// worker (src/render-worker), one job at a time — the engine renders one at a time anyway, and a worker holding a job
// it cannot start yet would keep it from an idle worker. docs/scale-out.md, "Generation pool".
import { existsSync } from 'node:fs';
import { type Job, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { type RenderWorker, type RenderWorkerStats, startRenderWorker } from '../render-worker/index.js';
import { QUEUE_PREFIX, type QueueLocation, RENDER_QUEUE, redisConnectionOptions } from './connection.js';
import {
  encodeImages,
  fromSharedPaths,
  RENDER_CANCEL_CHANNEL,
  type RenderJobData,
  type RenderOutcome,
  serializeError,
} from './render-protocol.js';

export interface RenderConsumerOptions {
  location: QueueLocation;
  /** The shared workspace as this machine mounts it (LoRA and base-model paths in requests are resolved in it). */
  workspace: string;
  /** The engine's environment. */
  env: NodeJS.ProcessEnv;
  /** How the studio lists this worker. */
  workerName: string;
  /** The engine's stderr (its tracebacks among them). */
  onLog?: (chunk: string) => void;
  /** Redis connection trouble (BullMQ keeps retrying). */
  onError?: (error: Error) => void;
  /**
   * A base model (workspace-relative or absolute) to load before taking the first job, with a one-step 64 px render:
   * the first cover this worker renders then does not pay for the load.
   */
  preloadModel?: string;
}

export interface RenderConsumer {
  stats(): RenderWorkerStats;
  /** Resolves once the worker takes jobs (after its preload, if any); rejects if the preload failed. */
  whenReady(): Promise<void>;
  /** Finishes the render in progress, stops taking more, ends the engine process. */
  stop(): Promise<void>;
}

/** Cancels for jobs not (yet) running here are remembered this long (by count): one may be about to start. */
const EARLY_CANCELS_KEPT = 1000;

export function startRenderConsumer(options: RenderConsumerOptions): RenderConsumer {
  const renderer = startRenderWorker({ env: options.env, onLog: options.onLog });
  const running = new Map<string, AbortController>();
  const earlyCancels = new Set<string>();
  const onError = (error: Error) => options.onError?.(error);

  // Every worker hears every cancel; the one running the job stops it.
  const subscriber = new Redis(options.location.url, { maxRetriesPerRequest: null });
  subscriber.on('error', onError);
  subscriber.on('message', (_channel: string, jobId: string) => {
    const controller = running.get(jobId);
    if (controller) controller.abort();
    else remember(earlyCancels, jobId);
  });
  const subscribed = subscriber.subscribe(RENDER_CANCEL_CHANNEL);

  const worker = new Worker<RenderJobData, RenderOutcome>(RENDER_QUEUE, (job) => answer(job as Job<RenderJobData>), {
    connection: redisConnectionOptions(options.location),
    prefix: QUEUE_PREFIX,
    concurrency: 1,
    autorun: false,
  });
  worker.on('error', onError);

  async function answer(job: Job<RenderJobData>): Promise<RenderOutcome> {
    const timing = { submitted: job.timestamp, started: job.processedOn ?? Date.now() };
    const jobId = job.id!;
    const controller = new AbortController();
    running.set(jobId, controller);
    if (earlyCancels.delete(jobId)) controller.abort();
    try {
      const request = fromSharedPaths(job.data.request, options.workspace, existsSync);
      const onProgress = (progress: object) => void job.updateProgress(progress).catch(onError);
      const images = await renderer.render(request, controller.signal, onProgress);
      return { images: encodeImages(images), worker: options.workerName, stats: renderer.stats(), timing };
    } catch (error) {
      return { error: serializeError(error), worker: options.workerName, stats: renderer.stats(), timing };
    } finally {
      running.delete(jobId);
    }
  }

  const ready = (async () => {
    await subscribed;
    if (options.preloadModel !== undefined) await preload(renderer, options.preloadModel, options.workspace);
    void worker.run().catch(onError);
    await worker.waitUntilReady();
  })();
  ready.catch(() => undefined); // whenReady() reports it

  return {
    stats: () => renderer.stats(),
    whenReady: () => ready,
    async stop() {
      await ready.catch(() => undefined);
      await worker.close(); // waits for the job in progress
      await subscriber.quit().catch(() => subscriber.disconnect());
      await renderer.close();
    },
  };
}

/** Loads the base model with the smallest render the engine does. */
async function preload(renderer: RenderWorker, model: string, workspace: string): Promise<void> {
  const request = fromSharedPaths(
    {
      base_model: model,
      prompt: '',
      negative_prompt: '',
      seeds: [0],
      steps: 1,
      cfg_scale: 1,
      width: 64,
      height: 64,
      sampler: 'Euler',
      loras: [],
    },
    workspace,
    existsSync,
  );
  await renderer.render(request);
}

function remember(ids: Set<string>, id: string): void {
  ids.add(id);
  if (ids.size > EARLY_CANCELS_KEPT) ids.delete(ids.values().next().value!);
}

// A worker's side of the render queue: takes render requests and answers them with a warm render worker.
// (Being built: see issue 18.)
import type { RenderWorkerStats } from '../render-worker/index.js';
import type { QueueLocation } from './connection.js';

export interface RenderConsumerOptions {
  location: QueueLocation;
  /** The shared workspace as this machine mounts it (LoRA and base-model paths in requests are resolved in it). */
  workspace: string;
  /** The engine's environment. */
  env: NodeJS.ProcessEnv;
  /** How the studio lists this worker. */
  workerName: string;
}

export interface RenderConsumer {
  stats(): RenderWorkerStats;
  /** Finishes the render in progress, stops taking more, ends the engine process. */
  stop(): Promise<void>;
}

export function startRenderConsumer(_options: RenderConsumerOptions): RenderConsumer {
  throw new Error('the render consumer is not built yet');
}

// One render worker per server: the cover service and the A1111-compatible API share it, so the base model is loaded
// once for both. Started lazily (the engine process spawns on the first render), closed with the server. With
// `serve --queue` it is the queue's client instead: renders run on the `lora-scripts worker` processes.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { queueRenderWorker } from '../queue/index.js';
import { type RenderWorker, startRenderWorker } from '../render-worker/index.js';
import type { JobStore } from '../store/index.js';
import type { RouteDeps } from './app.js';

/** The worker's engine log (its tracebacks among them), beside the studio's store in the workspace. */
export const RENDER_WORKER_LOG = ['.lora-scripts', 'logs', 'render-worker.log'] as const;

// Keyed by the server's job store: one per server (createApp's routes all get the same one), gone with it.
const workers = new WeakMap<JobStore, RenderWorker>();

export function sharedRenderWorker(deps: Pick<RouteDeps, 'store' | 'env' | 'workspace' | 'queue'>): RenderWorker {
  let worker = workers.get(deps.store);
  if (!worker) {
    const logFile = join(deps.workspace, ...RENDER_WORKER_LOG);
    const log = (chunk: string) => {
      mkdirSync(dirname(logFile), { recursive: true });
      appendFileSync(logFile, chunk);
    };
    worker = deps.queue
      ? queueRenderWorker(deps.queue, {
          workspace: deps.workspace,
          onError: (error) => log(`render queue: ${error.message}\n`),
        })
      : startRenderWorker({
          env: deps.env,
          onLog: log,
        });
    workers.set(deps.store, worker);
  }
  return worker;
}

/** Ends the server's render worker, if one was started; serve.ts calls it when the server closes. */
export async function closeSharedRenderWorker(store: JobStore): Promise<void> {
  const worker = workers.get(store);
  workers.delete(store);
  await worker?.close();
}

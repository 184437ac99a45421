// The studio's side of the render queue: a RenderWorker whose renders run on `lora-scripts worker` processes.
// (Being built: see issue 18.)
import type { RenderWorker } from '../render-worker/index.js';
import type { QueueLocation } from './connection.js';

export function queueRenderWorker(_location: QueueLocation): RenderWorker {
  throw new Error('the render queue client is not built yet');
}

// Public API of the render worker: a long-lived engine process that keeps the base model loaded and switches LoRAs.
/**
 * `const worker = startRenderWorker({env: process.env})`; `await worker.render({base_model, prompt, seeds: [1, 2],
 * loras: [{path, weight: 0.7}], …})` → one PNG per seed with its WebUI infotext; `worker.stats()` counts base-model
 * and LoRA loads; `await worker.close()`.
 */
export { startRenderWorker, type RenderWorkerOptions } from './process.js';
export type {
  RenderedImage,
  RenderLora,
  RenderProgress,
  RenderRequest,
  RenderWorker,
  RenderWorkerStats,
} from './types.js';

// The job queue on Redis (BullMQ) that a studio and any number of `lora-scripts worker` processes share
// (`serve --queue redis://…`). docs/scale-out.md tells how the pieces fit.
export {
  JOB_QUEUE,
  QUEUE_PREFIX,
  type QueueLocation,
  queueLocation,
  RENDER_QUEUE,
  redisConnectionOptions,
} from './connection.js';
/** Renders (covers, the A1111 API) on the workers: the studio's client and the workers' consumer. */
export { queueRenderWorker } from './render-client.js';
export { type RenderConsumer, type RenderConsumerOptions, startRenderConsumer } from './render-consumer.js';

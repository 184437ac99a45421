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
/**
 * The studio's side: queued store jobs onto the queue, what workers report into the store.
 * @example const dispatcher = await startQueueDispatcher({ store, location }); … onJobQueued: dispatcher.wake
 */
export { type QueueDispatcher, type QueueDispatcherOptions, startQueueDispatcher } from './dispatcher.js';
/**
 * A worker's side: runs the queue's jobs with the studio's executors.
 * @example startQueueWorker({ location, name: defaultWorkerName(), execute: executorForKind({ workspace, env }) })
 */
export { type QueueWorker, type QueueWorkerOptions, startQueueWorker } from './worker.js';
export { KIND_PRIORITY } from './job-options.js';
export { withQueueDevices } from './queue-devices.js';
export { deviceEnv } from './device-env.js';
export { checkQueueReachable, shownQueueUrl } from './reach.js';
export { DEFAULT_QUEUE_TIMING, type QueueTiming, queueTimingFromEnv } from './timing.js';
/** The live workers and the dead-letter list, for the studio's routes. */
export { defaultWorkerName, type WorkerInfo, workerInfoSchema } from './registry.js';
export {
  closeQueueInspectors,
  type DeadLetter,
  deadLetterSchema,
  type QueueInspector,
  openQueueInspector,
  sharedQueueInspector,
} from './inspector.js';
/** Renders (covers, the A1111 API) on the workers: the studio's client and the workers' consumer. */
export { queueRenderWorker } from './render-client.js';
export { type RenderConsumer, type RenderConsumerOptions, startRenderConsumer } from './render-consumer.js';

// The Redis keys this tool keeps beside BullMQ's own, all under QUEUE_PREFIX, and the BullMQ job id of a store job.
import { QUEUE_PREFIX } from './connection.js';

/** Hash: store job id → the BullMQ job id now carrying it (what cancel and a restarted studio look up). */
export const IN_FLIGHT_KEY = `${QUEUE_PREFIX}:in-flight`;

/** Set by the studio when a job is cancelled; the worker running it polls it and stops the job. */
export function cancelKey(queueJobId: string): string {
  return `${QUEUE_PREFIX}:cancel:${queueJobId}`;
}

/** One key per live worker, with a TTL the worker keeps renewing: the key is gone soon after the worker is. */
export const WORKER_KEY_PREFIX = `${QUEUE_PREFIX}:workers:`;
export function workerKey(name: string): string {
  return `${WORKER_KEY_PREFIX}${name}`;
}

/** The id of the last queue event the studio wrote into its store: a restarted studio reads on from there. */
export const BRIDGE_CURSOR_KEY = `${QUEUE_PREFIX}:bridge-cursor`;

/**
 * Each start of a store job from the queue is one BullMQ job, `<store id>.<attempt>` (the store's attempt count + 1
 * when it is dispatched), so dispatching the same queued job twice adds it once (BullMQ ignores a known id).
 * @example queueJobId('3f2a…', 0) // '3f2a….1'
 */
export function queueJobId(storeJobId: string, attemptsSoFar: number): string {
  return `${storeJobId}.${attemptsSoFar + 1}`;
}

/** The store job a BullMQ job id belongs to (everything before the last dot). */
export function storeJobIdOf(queueJobIdValue: string): string {
  const dot = queueJobIdValue.lastIndexOf('.');
  return dot === -1 ? queueJobIdValue : queueJobIdValue.slice(0, dot);
}

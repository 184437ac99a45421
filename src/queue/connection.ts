// Where the queue is: a Redis URL (`--queue redis://host:6379`), and the names every studio and worker agree on.
import { UsageError } from '../errors.js';

export interface QueueLocation {
  /** As given, e.g. `redis://10.0.0.5:6379` or `rediss://user:pass@host:6380/2`. */
  url: string;
}

/** BullMQ's key prefix: everything this tool keeps in Redis starts with it, so a shared Redis stays tidy. */
export const QUEUE_PREFIX = 'lora-scripts';
/** Studio jobs (train, generate, prepare, auto-label, merge): one BullMQ job per attempt of a store job. */
export const JOB_QUEUE = 'jobs';
/** Render requests (covers, the A1111-compatible API): answered with the PNGs. */
export const RENDER_QUEUE = 'render';

/** @example queueLocation('redis://127.0.0.1:6379') */
export function queueLocation(url: string): QueueLocation {
  if (!/^rediss?:\/\/[^/\s]+/.test(url)) {
    throw new UsageError(`\`${url}\` is not a Redis URL`, {
      code: 'bad_queue_url',
      culprit: '--queue',
      hint: 'give `redis://host:6379` (or `rediss://` for TLS), the Redis every studio and worker shares',
    });
  }
  return { url };
}

/** BullMQ's `connection` option for the location; BullMQ workers need `maxRetriesPerRequest: null`. */
export function redisConnectionOptions(location: QueueLocation) {
  return { url: location.url, maxRetriesPerRequest: null };
}

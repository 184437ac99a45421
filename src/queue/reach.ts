// A one-time check that the Redis named by `--queue` answers, so a wrong address is one clear error at start
// rather than a studio or worker that waits forever (BullMQ's connections retry without end, as they should later).
import { Redis } from 'ioredis';
import { UsageError } from '../errors.js';
import type { QueueLocation } from './connection.js';

const REACH_TIMEOUT_MS = 5_000;

/** Throws UsageError naming `--queue` when the Redis does not answer a PING within a few seconds. */
export async function checkQueueReachable(location: QueueLocation, timeoutMs = REACH_TIMEOUT_MS): Promise<void> {
  const redis = new Redis(location.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // The socket's own error (ECONNREFUSED…) says more than the "Connection is closed." connect() rejects with.
  let socketError: Error | undefined;
  redis.on('error', (error: Error) => {
    socketError ??= error;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    throw new UsageError(
      `no Redis answers at ${shownQueueUrl(location)} (${(socketError ?? (error as Error)).message})`,
      {
        code: 'queue_unreachable',
        culprit: '--queue',
        hint: 'start Redis there (`redis-server`), or give the address the studio and workers share',
      },
    );
  } finally {
    redis.disconnect();
  }
}

/** The URL without its password, for lines a user sees. */
export function shownQueueUrl(location: QueueLocation): string {
  return location.url.replace(/\/\/[^@/]*@/, '//');
}

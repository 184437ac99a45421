// What the studio shows of the queue: the live workers and the dead-letter list (jobs that failed for good).
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import { JOB_QUEUE, QUEUE_PREFIX, type QueueLocation, redisConnectionOptions } from './connection.js';
import { storeJobIdOf } from './keys.js';
import { failureReasonOf, failureReasonSchema } from './messages.js';
import { listWorkers, type WorkerInfo } from './registry.js';

export const deadLetterSchema = z.strictObject({
  /** The BullMQ job, `<store job id>.<attempt>`. */
  queue_job_id: z.string(),
  /** The studio's job (GET /api/jobs/{id} has its log). */
  job_id: z.string(),
  kind: z.string(),
  reason: failureReasonSchema,
  /** Runs it had before it was given up. */
  runs: z.number().int().nonnegative(),
  failed_at: z.iso.datetime().nullable(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

export interface QueueInspector {
  workers(): Promise<WorkerInfo[]>;
  /** Newest first, at most `limit`. */
  deadLetters(limit: number): Promise<DeadLetter[]>;
  close(): Promise<void>;
}

export function openQueueInspector(location: QueueLocation): QueueInspector {
  const redis = new Redis(location.url, { maxRetriesPerRequest: null });
  const queue = new Queue(JOB_QUEUE, { connection: redisConnectionOptions(location), prefix: QUEUE_PREFIX });
  return {
    workers: () => listWorkers(redis),
    async deadLetters(limit) {
      const failed = await queue.getFailed(0, limit - 1);
      return failed.map((job) => ({
        queue_job_id: job.id ?? '',
        job_id: storeJobIdOf(job.id ?? ''),
        kind: job.name,
        reason: failureReasonOf(job.failedReason),
        runs: job.attemptsMade,
        failed_at: job.finishedOn === undefined ? null : new Date(job.finishedOn).toISOString(),
      }));
    },
    async close() {
      await queue.close();
      await redis.quit();
    },
  };
}

/** One inspector per Redis for the whole process (the routes of every app share it); `closeQueueInspectors` ends them. */
const inspectors = new Map<string, QueueInspector>();

export function sharedQueueInspector(location: QueueLocation): QueueInspector {
  let inspector = inspectors.get(location.url);
  if (inspector === undefined) {
    inspector = openQueueInspector(location);
    inspectors.set(location.url, inspector);
  }
  return inspector;
}

/** What a stopping studio calls, so no Redis connection keeps the process alive. */
export async function closeQueueInspectors(): Promise<void> {
  const open = [...inspectors.values()];
  inspectors.clear();
  await Promise.all(open.map((inspector) => inspector.close()));
}

// How a store job goes onto the queue: its priority by kind, its retries and their backoff (pure).
import type { JobsOptions } from 'bullmq';
import type { JobKind } from '../store/index.js';

/**
 * BullMQ priorities: 1 is taken first. A picture someone waits for on a page (generate) before quick file work
 * (merge), before dataset work (prepare, auto-label), before a training that runs for hours anyway.
 */
export const KIND_PRIORITY: Readonly<Record<JobKind, number>> = {
  generate: 1,
  merge: 2,
  prepare: 3,
  'auto-label': 3,
  train: 5,
};

export interface RetryPolicy {
  /** Runs of a job in all, the first included, before it goes to the dead-letter list. */
  attempts: number;
  /** The wait before the first retry; doubled before each next one. */
  backoffMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 3, backoffMs: 5_000 };

/** Finished BullMQ jobs are kept a week (1000 at most): a restarted studio settles its jobs from them. */
const KEEP_FINISHED = { age: 7 * 24 * 3600, count: 1000 };

export function jobOptionsFor(kind: JobKind, queueJobId: string, retry: RetryPolicy): JobsOptions {
  return {
    jobId: queueJobId,
    priority: KIND_PRIORITY[kind],
    attempts: retry.attempts,
    backoff: { type: 'exponential', delay: retry.backoffMs },
    removeOnComplete: KEEP_FINISHED,
    // The failed set is the dead-letter list: kept until someone looks (1000 at most).
    removeOnFail: { count: 1000 },
  };
}

// The studio's side of what workers report: each queue event of a job becomes writes to its store record, in order.
import type { JobError, JobStore } from '../store/index.js';
import { queueJobId, storeJobIdOf } from './keys.js';
import {
  type FailureReason,
  messageBatchSchema,
  type RunResult,
  runResultSchema,
  type WorkerMessage,
} from './messages.js';

/** The queue events the studio acts on, as QueueEvents hands them over. */
export type QueueEvent =
  | { type: 'progress'; queueJobId: string; data: unknown }
  | { type: 'completed'; queueJobId: string; result: unknown }
  | { type: 'failed'; queueJobId: string; reason: FailureReason };

/** What the bridge did that the dispatcher must know: the store job's queue run is over (or never was). */
export interface BridgeOutcome {
  settled: boolean;
}

/** Applies one queue event to the store. Events of a job that is already final change nothing (no double finish). */
export async function applyQueueEvent(store: JobStore, event: QueueEvent): Promise<BridgeOutcome> {
  const id = storeJobIdOf(event.queueJobId);
  const job = await store.getJob(id);
  if (job === null) return { settled: true };
  // A queued job's run to come is `<id>.<attempts + 1>`; the end of any other run of it is old news.
  if (event.type !== 'progress' && job.status === 'queued' && event.queueJobId !== queueJobId(id, job.attempts)) {
    return { settled: false };
  }
  switch (event.type) {
    case 'progress': {
      const batch = messageBatchSchema.safeParse(event.data);
      // Progress of some other shape is not a worker of this tool; nothing to write.
      if (!batch.success) return { settled: false };
      for (const message of batch.data.messages) await applyMessage(store, id, message);
      return { settled: false };
    }
    case 'completed': {
      const result = runResultSchema.safeParse(event.result);
      const outcome: RunResult = result.success ? result.data : { status: 'done', outputs: [] };
      await settleRun(store, id, outcome);
      return { settled: true };
    }
    case 'failed':
      await failRun(store, id, event.reason);
      return { settled: true };
  }
}

async function applyMessage(store: JobStore, id: string, message: WorkerMessage): Promise<void> {
  switch (message.type) {
    case 'start': {
      await startRun(store, id);
      const how = message.resumed ? ', going on from where its last run ended' : '';
      const line = `run ${(await store.getJob(id))?.attempts ?? 1} on worker ${message.worker}${how}`;
      await store.appendLog(id, [line]);
      await store.appendUpdates(id, [{ type: 'log', lines: [line] }]);
      return;
    }
    case 'log':
      await store.appendLog(id, message.lines);
      if (message.to_watchers) await store.appendUpdates(id, [{ type: 'log', lines: message.lines }]);
      return;
    case 'progress':
      if ((await store.getJob(id))?.status === 'running') {
        await store.applyEvent(id, { type: 'progress', progress: message.progress });
      }
      return;
    case 'update':
      await store.appendUpdates(id, [message.update]);
      return;
  }
}

/**
 * A run began. A job still `running` had a run before that ended without a word (its worker died, or it crashed and
 * is retried): that run is recorded as interrupted and the job resumed, so `attempts` counts every run.
 */
async function startRun(store: JobStore, id: string): Promise<void> {
  const job = await store.getJob(id);
  if (job?.status === 'running') {
    await store.applyEvent(id, { type: 'interrupt' });
    await store.applyEvent(id, { type: 'resume', resume_from: 'auto' });
  } else if (job?.status !== 'queued') {
    return; // cancelled meanwhile: the worker sees the cancel and stops
  }
  await store.applyEvent(id, { type: 'start' });
}

/** The end of a run as the worker returned it; a job no longer running (cancelled, already settled) stays as it is. */
export async function settleRun(store: JobStore, id: string, result: RunResult): Promise<void> {
  const job = await store.getJob(id);
  if (job === null) return;
  // Its start was never bridged (the studio was down and the events are gone): the run happened all the same.
  if (job.status === 'queued' && result.status !== 'cancelled') await store.applyEvent(id, { type: 'start' });
  else if (job.status !== 'running') return;
  switch (result.status) {
    case 'done':
      await store.applyEvent(id, { type: 'finish', outputs: result.outputs });
      return;
    case 'cancelled':
      await store.applyEvent(id, { type: 'cancel' });
      return;
    case 'interrupted':
      // Its worker was stopped (Ctrl-C, a deploy): back on the queue for another, from its last saved state.
      await store.applyEvent(id, { type: 'interrupt' });
      await store.applyEvent(id, { type: 'resume', resume_from: 'auto' });
      return;
  }
}

/** The job failed for good (its last retry, or an error of its own): the reason is the dead-letter list's too. */
export async function failRun(store: JobStore, id: string, reason: FailureReason): Promise<void> {
  const job = await store.getJob(id);
  if (job === null) return;
  if (job.status === 'queued') await store.applyEvent(id, { type: 'start' });
  else if (job.status !== 'running') return;
  const error: JobError = reason;
  await store.applyEvent(id, { type: 'fail', ...error });
}

// The in-process queue runner: one job at a time per device, from the store's queue to a final status.
import { InterruptedError, LoraScriptsError } from '../../errors.js';
import type { Job, JobError, JobEvent, JobProgress, JobStore, NewJobUpdate } from '../../store/index.js';

/** What a running job may do besides its work: see its stop signal, write log lines, report progress and updates. */
export interface JobExecution {
  /** Aborted when the job is cancelled or the runner stops; the executor ends as soon as it can. */
  signal: AbortSignal;
  /**
   * Lines of the job's full log; watchers get them as `log` updates too, unless `toWatchers` is false (a line that
   * only restates a typed update, such as each step's loss, would double what every watcher is sent).
   */
  log(lines: readonly string[], options?: { toWatchers?: boolean }): void;
  /** The job record's progress (what a job list shows). */
  progress(progress: JobProgress): void;
  /** A typed update for watchers (loss, samples, checkpoints, findings…), kept in the store in order. */
  update(update: NewJobUpdate): void;
}

/** Runs one job to its end; resolves with the workspace-relative files it wrote, rejects with why it failed. */
export type JobExecutor = (job: Job, execution: JobExecution) => Promise<string[]>;

export interface JobRunnerOptions {
  store: JobStore;
  /** The device whose queue this runner takes jobs from. */
  device: string;
  execute: JobExecutor;
  /** How often an idle runner looks for queued jobs, and a busy one for a cancel (ms). */
  pollMs?: number;
  /** Where a failure of the runner itself goes (a store that cannot be written); default: stderr. */
  logError?: (error: unknown) => void;
}

export interface JobRunner {
  /** Looks at the queue (and the running job's status) now rather than at the next poll. */
  wake(): void;
  /** Aborts the running job, waits for it to end (it is then `interrupted`, so it can resume) and stops. */
  stop(): Promise<void>;
}

const DEFAULT_POLL_MS = 500;

/** The device every job runs on until the engine picks devices itself. */
export const DEFAULT_DEVICE = 'default';

/** @example const runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env }) }); */
export function startJobRunner({
  store,
  device,
  execute,
  pollMs = DEFAULT_POLL_MS,
  logError = logToStderr,
}: JobRunnerOptions): JobRunner {
  let stopping = false;
  let current: { id: string; controller: AbortController } | null = null;
  const idle = createWakeUp();

  const runOne = async (job: Job) => {
    const controller = new AbortController();
    // stop() may have come while the job was being claimed: the executor then starts aborted.
    if (stopping) controller.abort();
    current = { id: job.id, controller };
    const writes = createWriteQueue(logError);
    // The job may be cancelled by any client of the store, so its status is what the runner watches.
    const watch = () => abortIfNotRunning(store, job.id, controller).catch(logError);
    const watcher = setInterval(watch, pollMs);
    let outcome: JobEvent;
    try {
      const outputs = await execute(job, {
        signal: controller.signal,
        log: (lines, { toWatchers = true } = {}) => writes.add(() => recordLog(store, job.id, lines, toWatchers)),
        progress: (progress) => writes.add(() => recordProgress(store, job.id, progress)),
        update: (update) => writes.add(() => store.appendUpdates(job.id, [update])),
      });
      // Ended with its outputs even if a stop came meanwhile: it finished.
      outcome = { type: 'finish', outputs };
    } catch (error) {
      // Interrupted (the server's Ctrl-C reached the engine): resumable, not failed.
      const isInterrupted = stopping || error instanceof InterruptedError;
      outcome = isInterrupted ? { type: 'interrupt' } : { type: 'fail', ...jobErrorOf(error) };
    } finally {
      clearInterval(watcher);
      current = null;
    }
    await writes.drained();
    await settle(store, job.id, outcome);
  };

  const loop = async () => {
    while (!stopping) {
      try {
        const job = await store.claimNextQueued(device);
        if (job) await runOne(job);
        else await idle.wait(pollMs);
      } catch (error) {
        logError(error);
        await idle.wait(pollMs);
      }
    }
  };
  const running = loop();

  return {
    wake: () => {
      idle.wake();
      if (current) abortIfNotRunning(store, current.id, current.controller).catch(logError);
    },
    stop: async () => {
      stopping = true;
      current?.controller.abort();
      idle.wake();
      await running;
    },
  };
}

/** What a failed job keeps of its error: the fields a LoraScriptsError carries, or the message of any other. */
export function jobErrorOf(error: unknown): JobError {
  if (error instanceof LoraScriptsError) {
    return { code: error.code, message: error.line, ...(error.hint ? { hint: error.hint } : {}) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal_error', message: message || 'the job failed without a message' };
}

/** Applies the job's final event unless the job already left `running` (a cancel won the race). */
async function settle(store: JobStore, id: string, event: JobEvent): Promise<void> {
  const job = await store.getJob(id);
  if (job?.status !== 'running') return;
  await store.applyEvent(id, event);
}

async function abortIfNotRunning(store: JobStore, id: string, controller: AbortController): Promise<void> {
  const job = await store.getJob(id);
  if (job?.status !== 'running') controller.abort();
}

async function recordLog(store: JobStore, id: string, lines: readonly string[], toWatchers: boolean): Promise<void> {
  await store.appendLog(id, lines);
  if (toWatchers) await store.appendUpdates(id, [{ type: 'log', lines: [...lines] }]);
}

/** Progress of a job that was cancelled meanwhile is dropped: the job is no longer the runner's. */
async function recordProgress(store: JobStore, id: string, progress: JobProgress): Promise<void> {
  const job = await store.getJob(id);
  if (job?.status === 'running') await store.applyEvent(id, { type: 'progress', progress });
}

/** Log and progress writes in the order they were made, so a job's final status is written after all of them. */
function createWriteQueue(logError: (error: unknown) => void) {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    add(write: () => Promise<unknown>): void {
      tail = tail.then(write).catch(logError);
    },
    drained: () => tail.then(() => undefined),
  };
}

/** A wait that ends after `ms` or at the next `wake()`, whichever is first. */
function createWakeUp() {
  let wakeWaiter: (() => void) | null = null;
  return {
    wait(ms: number): Promise<void> {
      return new Promise((done) => {
        const timer = setTimeout(finish, ms);
        function finish() {
          clearTimeout(timer);
          wakeWaiter = null;
          done();
        }
        wakeWaiter = finish;
      });
    },
    wake(): void {
      wakeWaiter?.();
    },
  };
}

function logToStderr(error: unknown): void {
  process.stderr.write(`studio runner: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
}

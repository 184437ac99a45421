// How fast the queue notices things: lock and stall checks, heartbeats, polls. Defaults suit real clusters; tests
// (and impatient users) shorten them through the environment, read once at the edge.
import { UsageError } from '../errors.js';

export interface QueueTiming {
  /** How long a worker's claim on a job lasts unless renewed (it renews at half): a dead worker's job waits this long. */
  lockMs: number;
  /** How often workers look for jobs whose worker died (their lock ran out) and put them back on the queue. */
  stalledCheckMs: number;
  /** Times a job may lose its worker before it goes to the dead-letter list (a job that kills every worker). */
  maxStalled: number;
  /** How often a worker renews its entry in the worker list (the entry lives three times as long). */
  heartbeatMs: number;
  /** How often a worker looks for cancels of its jobs, and the studio for new, cancelled and lost jobs. */
  pollMs: number;
  /** How long a worker gathers a job's log lines and updates before sending them. */
  flushMs: number;
  /** The wait before the first retry of a crashed job (then doubled each time). */
  backoffMs: number;
}

export const DEFAULT_QUEUE_TIMING: QueueTiming = {
  lockMs: 30_000,
  stalledCheckMs: 30_000,
  maxStalled: 2,
  heartbeatMs: 5_000,
  pollMs: 1_000,
  flushMs: 200,
  backoffMs: 5_000,
};

/** The environment variable of each setting, e.g. LORA_SCRIPTS_QUEUE_LOCK_MS=3000. */
const ENV_NAMES: Record<keyof QueueTiming, string> = {
  lockMs: 'LORA_SCRIPTS_QUEUE_LOCK_MS',
  stalledCheckMs: 'LORA_SCRIPTS_QUEUE_STALLED_CHECK_MS',
  maxStalled: 'LORA_SCRIPTS_QUEUE_MAX_STALLED',
  heartbeatMs: 'LORA_SCRIPTS_QUEUE_HEARTBEAT_MS',
  pollMs: 'LORA_SCRIPTS_QUEUE_POLL_MS',
  flushMs: 'LORA_SCRIPTS_QUEUE_FLUSH_MS',
  backoffMs: 'LORA_SCRIPTS_QUEUE_BACKOFF_MS',
};

/** The defaults, each replaced by its environment variable when set. Throws UsageError naming a bad one. */
export function queueTimingFromEnv(env: NodeJS.ProcessEnv): QueueTiming {
  const timing = { ...DEFAULT_QUEUE_TIMING };
  for (const key of Object.keys(ENV_NAMES) as (keyof QueueTiming)[]) {
    const name = ENV_NAMES[key];
    const text = env[name];
    if (text === undefined || text === '') continue;
    const value = Number(text);
    if (!Number.isInteger(value) || value < (key === 'maxStalled' ? 0 : 1)) {
      throw new UsageError(`\`${text}\` is not a whole number of ${key === 'maxStalled' ? 'times' : 'ms'}`, {
        code: 'bad_queue_timing',
        culprit: name,
        hint: `unset it for the default (${DEFAULT_QUEUE_TIMING[key]})`,
      });
    }
    timing[key] = value;
  }
  return timing;
}

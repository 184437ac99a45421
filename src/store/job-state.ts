// The job record and its lifecycle: which event may move a job from which status, and what each move writes.
import { z } from 'zod';
import { StoreError } from './store-error.js';

export const jobKindSchema = z.enum(['prepare', 'auto-label', 'train', 'generate', 'merge']);
export type JobKind = z.infer<typeof jobKindSchema>;

export const jobStatusSchema = z.enum(['queued', 'running', 'done', 'failed', 'cancelled', 'interrupted']);
export type JobStatus = z.infer<typeof jobStatusSchema>;

/** Engine progress; extra keys (lr, step_ms…) pass through untouched. */
export const jobProgressSchema = z.looseObject({
  step: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  loss: z.number().optional(),
});
export type JobProgress = z.infer<typeof jobProgressSchema>;

export const jobErrorSchema = z.strictObject({
  code: z.string().min(1),
  message: z.string().min(1),
  hint: z.string().optional(),
});
export type JobError = z.infer<typeof jobErrorSchema>;

/** A JSON object: the resolved config the job runs with. */
export const jobConfigSchema = z.record(z.string(), z.unknown());

const isoTime = z.iso.datetime();

export const jobSchema = z.strictObject({
  id: z.string().min(1),
  kind: jobKindSchema,
  status: jobStatusSchema,
  /** Where it runs: `cpu`, `cuda:0`…; a device runs one job at a time. */
  device: z.string().min(1),
  config: jobConfigSchema,
  created_at: isoTime,
  /** When the latest attempt started. */
  started_at: isoTime.nullable(),
  finished_at: isoTime.nullable(),
  progress: jobProgressSchema.nullable(),
  error: jobErrorSchema.nullable(),
  /** Workspace-relative paths of the files the job wrote. */
  outputs: z.array(z.string()),
  /** The training state a resumed job continues from. */
  resume_from: z.string().nullable(),
  /** How many times the job was started (a resumed job counts again). */
  attempts: z.number().int().nonnegative(),
});
export type Job = z.infer<typeof jobSchema>;

/** What a caller gives to create a job; the store fills in the rest. */
export const newJobSchema = z.strictObject({
  kind: jobKindSchema,
  device: z.string().min(1),
  config: jobConfigSchema,
  /** Chosen by the store when left out. */
  id: z.string().min(1).optional(),
  resume_from: z.string().min(1).nullable().optional(),
});
export type NewJob = z.input<typeof newJobSchema>;

/** A queued job made of `input`, which must already be valid. */
export function queuedJob(input: z.output<typeof newJobSchema> & { id: string }, createdAt: string): Job {
  return {
    id: input.id,
    kind: input.kind,
    status: 'queued',
    device: input.device,
    config: input.config,
    created_at: createdAt,
    started_at: null,
    finished_at: null,
    progress: null,
    error: null,
    outputs: [],
    resume_from: input.resume_from ?? null,
    attempts: 0,
  };
}

export type JobEvent =
  | { type: 'start' }
  | { type: 'progress'; progress: JobProgress }
  | { type: 'finish'; outputs: string[] }
  | ({ type: 'fail' } & JobError)
  | { type: 'cancel' }
  | { type: 'interrupt' }
  | { type: 'resume'; resume_from?: string };
export type JobEventType = JobEvent['type'];

/**
 * The whole lifecycle. done, failed and cancelled are final: a failed job never becomes done (a retry is a new job),
 * and only an interrupted one (the server stopped under it) goes back to the queue.
 */
export const ALLOWED_EVENTS: Readonly<Record<JobStatus, readonly JobEventType[]>> = {
  queued: ['start', 'cancel'],
  running: ['progress', 'finish', 'fail', 'cancel', 'interrupt'],
  interrupted: ['resume', 'cancel'],
  done: [],
  failed: [],
  cancelled: [],
};

/**
 * The job after `event`, which happened at `at` (an ISO time; the caller owns the clock).
 * Throws `illegal_job_transition` naming the job and the move when the job's status does not allow the event.
 * @example transition(job, { type: 'fail', code: 'out_of_memory', message: 'CUDA out of memory' }, now)
 */
export function transition(job: Job, event: JobEvent, at: string): Job {
  const allowed = ALLOWED_EVENTS[job.status];
  if (!allowed.includes(event.type)) throw illegalMove(job, event.type);
  switch (event.type) {
    case 'start':
      return { ...job, status: 'running', started_at: at, attempts: job.attempts + 1 };
    case 'progress':
      return { ...job, progress: event.progress };
    case 'finish':
      return { ...job, status: 'done', finished_at: at, outputs: event.outputs };
    case 'fail': {
      const { type: _type, ...error } = event;
      return { ...job, status: 'failed', finished_at: at, error };
    }
    case 'cancel':
      return { ...job, status: 'cancelled', finished_at: at };
    case 'interrupt':
      return { ...job, status: 'interrupted', finished_at: at };
    case 'resume':
      return { ...job, status: 'queued', finished_at: null, resume_from: event.resume_from ?? job.resume_from };
  }
}

function illegalMove(job: Job, eventType: JobEventType): StoreError {
  const allowed = ALLOWED_EVENTS[job.status];
  return new StoreError(`cannot ${eventType} a job that is ${job.status}`, {
    code: 'illegal_job_transition',
    culprit: `job \`${job.id}\``,
    hint:
      allowed.length === 0
        ? `\`${job.status}\` is final; submit a new job to run it again`
        : `a job that is ${job.status} accepts only: ${allowed.map((type) => `\`${type}\``).join(', ')}`,
  });
}

import { describe, expect, it } from 'vitest';
import {
  ALLOWED_EVENTS,
  type Job,
  type JobEvent,
  type JobEventType,
  type JobStatus,
  jobSchema,
  jobStatusSchema,
  queuedJob,
  transition,
} from './job-state.js';
import { StoreError } from './store-error.js';

const CREATED = '2026-12-06T10:00:00.000Z';
const EARLIER = '2026-12-06T10:01:00.000Z';
const AT = '2026-12-06T10:05:00.000Z';

function jobIn(status: JobStatus, overrides: Partial<Job> = {}): Job {
  const queued = queuedJob({ id: 'j1', kind: 'train', device: 'cuda:0', config: { lora_rank: 16 } }, CREATED);
  return jobSchema.parse({ ...queued, status, ...overrides });
}

const SAMPLE_EVENTS: Record<JobEventType, JobEvent> = {
  start: { type: 'start' },
  progress: { type: 'progress', progress: { step: 40, total: 600, loss: 0.113, step_ms: 812 } },
  finish: { type: 'finish', outputs: ['out/pytorch_lora_weights.safetensors'] },
  fail: { type: 'fail', code: 'out_of_memory', message: 'CUDA out of memory', hint: 'lower `batch_size`' },
  cancel: { type: 'cancel' },
  interrupt: { type: 'interrupt' },
  resume: { type: 'resume', resume_from: 'out/checkpoints/step-200' },
};

/** Every legal move: the job it starts from and what it must become. */
const LEGAL_MOVES: { from: Job; event: JobEventType; to: Partial<Job> }[] = [
  { from: jobIn('queued'), event: 'start', to: { status: 'running', started_at: AT, attempts: 1 } },
  { from: jobIn('queued'), event: 'cancel', to: { status: 'cancelled', finished_at: AT } },
  {
    from: jobIn('running', { started_at: EARLIER, attempts: 1 }),
    event: 'progress',
    to: { status: 'running', started_at: EARLIER, progress: { step: 40, total: 600, loss: 0.113, step_ms: 812 } },
  },
  {
    from: jobIn('running', { started_at: EARLIER, attempts: 1 }),
    event: 'finish',
    to: { status: 'done', finished_at: AT, outputs: ['out/pytorch_lora_weights.safetensors'] },
  },
  {
    from: jobIn('running', { started_at: EARLIER, attempts: 1 }),
    event: 'fail',
    to: {
      status: 'failed',
      finished_at: AT,
      error: { code: 'out_of_memory', message: 'CUDA out of memory', hint: 'lower `batch_size`' },
    },
  },
  { from: jobIn('running'), event: 'cancel', to: { status: 'cancelled', finished_at: AT } },
  { from: jobIn('running'), event: 'interrupt', to: { status: 'interrupted', finished_at: AT } },
  {
    from: jobIn('interrupted', { finished_at: EARLIER, attempts: 1, progress: { step: 200, total: 600 } }),
    event: 'resume',
    to: {
      status: 'queued',
      finished_at: null,
      resume_from: 'out/checkpoints/step-200',
      attempts: 1,
      progress: { step: 200, total: 600 },
    },
  },
  {
    from: jobIn('interrupted', { finished_at: EARLIER }),
    event: 'cancel',
    to: { status: 'cancelled', finished_at: AT },
  },
];

describe('transition', () => {
  it('has a test case for every move the lifecycle allows', () => {
    const tested = LEGAL_MOVES.map((move) => `${move.from.status}:${move.event}`).sort();
    const allowed = Object.entries(ALLOWED_EVENTS)
      .flatMap(([status, events]) => events.map((event) => `${status}:${event}`))
      .sort();
    expect(tested).toEqual(allowed);
  });

  it.each(LEGAL_MOVES)('$from.status --$event--> $to.status', ({ from, event, to }) => {
    const next = transition(from, SAMPLE_EVENTS[event], AT);
    expect(next).toEqual({ ...from, ...to });
    expect(jobSchema.parse(next)).toEqual(next);
  });

  it('does not modify the job it was given', () => {
    const queued = jobIn('queued');
    const copy = structuredClone(queued);
    transition(queued, SAMPLE_EVENTS.start, AT);
    expect(queued).toEqual(copy);
  });

  const illegalMoves = jobStatusSchema.options.flatMap((status) =>
    (Object.keys(SAMPLE_EVENTS) as JobEventType[])
      .filter((event) => !ALLOWED_EVENTS[status].includes(event))
      .map((event) => ({ status, event })),
  );

  it.each(illegalMoves)('refuses to $event a $status job, naming the job and the move', ({ status, event }) => {
    const job = jobIn(status);
    const error = catchError(() => transition(job, SAMPLE_EVENTS[event], AT));
    expect(error).toBeInstanceOf(StoreError);
    expect(error.code).toBe('illegal_job_transition');
    expect(error.line).toBe(`job \`j1\`: cannot ${event} a job that is ${status}`);
  });

  it('never lets a failed job become done, directly or through the queue', () => {
    const failed = transition(jobIn('running'), SAMPLE_EVENTS.fail, AT);
    for (const event of ['finish', 'resume', 'start'] as const) {
      expect(() => transition(failed, SAMPLE_EVENTS[event], AT)).toThrow(StoreError);
    }
    expect(catchError(() => transition(failed, SAMPLE_EVENTS.finish, AT)).hint).toBe(
      '`failed` is final; submit a new job to run it again',
    );
  });

  it('hints at the events the current status accepts', () => {
    const error = catchError(() => transition(jobIn('interrupted'), SAMPLE_EVENTS.finish, AT));
    expect(error.hint).toBe('a job that is interrupted accepts only: `resume`, `cancel`');
  });

  it('counts each start of a resumed job as a new attempt and keeps the earlier resume point when none is given', () => {
    let job = jobIn('queued', { resume_from: 'out/checkpoints/step-100' });
    job = transition(job, SAMPLE_EVENTS.start, AT);
    job = transition(job, SAMPLE_EVENTS.interrupt, AT);
    job = transition(job, { type: 'resume' }, AT);
    job = transition(job, SAMPLE_EVENTS.start, AT);
    expect(job.attempts).toBe(2);
    expect(job.resume_from).toBe('out/checkpoints/step-100');
    expect(job.status).toBe('running');
  });
});

function catchError(run: () => unknown): StoreError {
  try {
    run();
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError, got none');
}

// What every job-store backend checks and refuses the same way (one contract, src/store/types.ts): the input checks
// and the errors of a broken uniqueness rule. The backends only say which of their errors means which.
import type { ZodError } from 'zod';
import type { Job } from './job-state.js';
import { type NewJobUpdate, newJobUpdateSchema } from './job-updates.js';
import { StoreError } from './store-error.js';

/** The `status` update a store writes in the same transaction as each status change. */
export function statusUpdateOf(job: Job): NewJobUpdate {
  return { type: 'status', status: job.status, error: job.error, outputs: job.outputs };
}

export function checkUpdate(update: NewJobUpdate): NewJobUpdate {
  const parsed = newJobUpdateSchema.safeParse(update);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new StoreError(issue?.message ?? 'invalid job update', {
    code: 'invalid_job_update',
    culprit: `\`${issue?.path.join('.') || 'update'}\``,
    hint: 'an update is one of the types in store/job-updates.ts',
  });
}

export function invalidJob(error: ZodError): StoreError {
  const issue = error.issues[0];
  const path = issue?.path.join('.') || 'job';
  return new StoreError(issue?.message ?? 'invalid job', {
    code: 'invalid_job',
    culprit: `\`${path}\``,
    hint: 'a job needs `kind`, `device` and a `config` object',
  });
}

/** The one-running-job-per-device index refused the write. */
export function deviceBusy(job: Job): StoreError {
  return new StoreError(`device \`${job.device}\` is already running a job`, {
    code: 'device_busy',
    culprit: `job \`${job.id}\``,
    hint: 'wait for the running job to end, or cancel it',
  });
}

/** The job id is taken. */
export function jobExists(job: Job): StoreError {
  return new StoreError('a job with this id already exists', {
    code: 'job_exists',
    culprit: `job \`${job.id}\``,
    hint: 'leave `id` out to get a new one',
  });
}

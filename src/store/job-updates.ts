// What a watcher of a job sees, in order: its progress, samples, checkpoints, findings, log lines and status changes.
// Kept in the store (not only pushed live), so a page opened late, a reload or a restarted server shows the whole run.
import { z } from 'zod';
import { jobErrorSchema, jobStatusSchema } from './job-state.js';

const step = z.number().int().nonnegative();

export const progressUpdateSchema = z.strictObject({
  type: z.literal('progress'),
  step,
  total_steps: step,
  epoch: z.number().int().nonnegative(),
  loss: z.number(),
  loss_smoothed: z.number(),
  lr: z.number(),
  step_ms: z.number().nonnegative(),
  /** Seconds left at the recent pace; null until a few steps were timed. */
  eta_s: z.number().nonnegative().nullable(),
});

/** A sample picture rendered during training; `path` is workspace-relative. */
export const sampleUpdateSchema = z.strictObject({
  type: z.literal('sample'),
  step,
  prompt: z.string(),
  path: z.string().min(1),
});

/** A LoRA saved at `step`; the final one has `is_final`. */
export const checkpointUpdateSchema = z.strictObject({
  type: z.literal('checkpoint'),
  step,
  path: z.string().min(1),
  is_final: z.boolean(),
});

export const validationUpdateSchema = z.strictObject({
  type: z.literal('validation'),
  step,
  epoch: z.number().int().nonnegative(),
  loss: z.number(),
  images: z.number().int().nonnegative(),
});

/** A training diagnostic (divergence, oscillation, plateau, overfitting) with what to do about it. */
export const findingUpdateSchema = z.strictObject({
  type: z.literal('finding'),
  code: z.string().min(1),
  step,
  epoch: z.number().int().nonnegative(),
  message: z.string().min(1),
  hint: z.string(),
});

export const warningUpdateSchema = z.strictObject({
  type: z.literal('warning'),
  code: z.string().min(1),
  message: z.string().min(1),
  hint: z.string().nullable(),
});

export const logUpdateSchema = z.strictObject({ type: z.literal('log'), lines: z.array(z.string()) });

/** Written by the store itself whenever a job's status changes, whoever changed it. */
export const statusUpdateSchema = z.strictObject({
  type: z.literal('status'),
  status: jobStatusSchema,
  error: jobErrorSchema.nullable(),
  outputs: z.array(z.string()),
});

export const newJobUpdateSchema = z.discriminatedUnion('type', [
  progressUpdateSchema,
  sampleUpdateSchema,
  checkpointUpdateSchema,
  validationUpdateSchema,
  findingUpdateSchema,
  warningUpdateSchema,
  logUpdateSchema,
  statusUpdateSchema,
]);
/** An update as a writer gives it; the store numbers it and stamps its time. */
export type NewJobUpdate = z.infer<typeof newJobUpdateSchema>;
export type JobUpdateType = NewJobUpdate['type'];

/** An update as stored: `seq` counts from 1 within its job, so `after=seq` resumes a feed without gaps or repeats. */
export type JobUpdate = NewJobUpdate & { seq: number; at: string };

export const jobUpdateMetaSchema = z.strictObject({ seq: z.number().int().positive(), at: z.iso.datetime() });

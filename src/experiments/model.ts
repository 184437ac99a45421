// What an experiment is, what is ingested into it and what its report says: the zod schemas the store, the routes
// and the CLI share (one source of truth; the routes add OpenAPI ids on top).
import { z } from 'zod';

/** Experiment ids travel in URLs and CLI arguments: lower-case letters, digits, `_` and `-`. */
export const experimentIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, { error: 'must be 1–64 lower-case letters, digits, `_` or `-`' });

/** Arm and segment names: letters (CJK too), digits, `_`, `-` and `.`, as they appear in CSV files. */
const labelSchema = z
  .string()
  .regex(/^[\p{L}\p{N}_.-]{1,64}$/u, { error: 'must be 1–64 letters, digits, `_`, `-` or `.`' });

export const armSchema = z.strictObject({
  name: labelSchema,
  /** Share of traffic relative to the other arms (50/50 = 1 and 1, or 50 and 50). */
  weight: z.number().positive().max(1e6),
  /** The library style this arm shows (the style's page lists the experiments it was in). */
  style: z.string().min(1).max(128).optional(),
  /** The LoRA strength the arm uses, when arms differ by strength. */
  strength: z.number().min(-10).max(10).optional(),
  description: z.string().max(500).optional(),
});
export type Arm = z.infer<typeof armSchema>;

export const newExperimentSchema = z
  .strictObject({
    id: experimentIdSchema,
    name: z.string().min(1).max(200).optional(),
    /** Hash salt; default: the id. Never change it on a running experiment (every user would move). */
    salt: z.string().min(1).max(128).optional(),
    arms: z.array(armSchema).min(2).max(10),
    /** The arm the others are compared with; default: the first. */
    control: labelSchema.optional(),
    /** Two-sided level of every test and interval. */
    alpha: z.number().min(0.001).max(0.2).default(0.05),
    /** Planning: the control's expected CTR and the smallest relative lift worth detecting, with the power wanted. */
    baseline_ctr: z.number().gt(0).lt(1).optional(),
    min_detectable_lift: z.number().gt(0).max(10).optional(),
    power: z.number().min(0.5).max(0.99).default(0.8),
  })
  .superRefine((value, ctx) => {
    const names = value.arms.map((arm) => arm.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['arms'],
        message: `arm \`${repeated}\` appears twice; name each arm once`,
      });
    }
    if (value.control !== undefined && !names.includes(value.control)) {
      ctx.addIssue({ code: 'custom', path: ['control'], message: `must be one of the arms: ${names.join(', ')}` });
    }
    if ((value.baseline_ctr === undefined) !== (value.min_detectable_lift === undefined)) {
      const missing = value.baseline_ctr === undefined ? 'baseline_ctr' : 'min_detectable_lift';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: 'planning needs both baseline_ctr and min_detectable_lift',
      });
    }
  });
export type NewExperiment = z.input<typeof newExperimentSchema>;

export const experimentSchema = z.strictObject({
  id: experimentIdSchema,
  name: z.string(),
  salt: z.string(),
  arms: z.array(armSchema),
  control: z.string(),
  alpha: z.number(),
  power: z.number(),
  baseline_ctr: z.number().nullable(),
  min_detectable_lift: z.number().nullable(),
  /** Users each arm needs for the planned lift (from the planner at creation), or null without a plan. */
  planned_users_per_arm: z.number().int().nullable(),
  created_at: z.string(),
});
export type Experiment = z.infer<typeof experimentSchema>;

const timestampSchema = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 time such as 2026-12-06T10:00:00Z',
});
const eventIdSchema = z.string().min(1).max(128);
const userIdSchema = z.string().min(1).max(256);

export const exposureEventSchema = z.strictObject({
  type: z.literal('exposure'),
  /** Unique per event: a batch sent twice is counted once. */
  event_id: eventIdSchema,
  user_id: userIdSchema,
  at: timestampSchema,
  /** The arm the user was shown; default: the arm the hash assigns. */
  arm: labelSchema.optional(),
  /** The region (or any split) the experiment is analysed in separately. */
  segment: labelSchema.optional(),
});

export const clickEventSchema = z.strictObject({
  type: z.literal('click'),
  event_id: eventIdSchema,
  user_id: userIdSchema,
  at: timestampSchema,
});

export const experimentEventSchema = z.discriminatedUnion('type', [exposureEventSchema, clickEventSchema]);
export type ExperimentEvent = z.infer<typeof experimentEventSchema>;

/** The most events one batch may carry. */
export const MAX_EVENTS_PER_BATCH = 10_000;

export interface IngestResult {
  /** Events stored now. */
  accepted: number;
  /** Events whose id was already stored (a resent batch): nothing changed for them. */
  duplicates: number;
}

/** Users and clicking users of one arm on one day (in one segment): what the analysis reads. */
export interface DailyCount {
  day: string;
  /** null when the experiment is not split. */
  segment: string | null;
  arm: string;
  users: number;
  clicks: number;
}

// The analysis as the API and the CLI give it: per arm, per comparison, the sample-ratio check and a plain verdict.
import { z } from 'zod';

const intervalSchema = z.tuple([z.number(), z.number()]);

export const armResultSchema = z.strictObject({
  arm: z.string(),
  users: z.number().int().nonnegative(),
  clicks: z.number().int().nonnegative(),
  ctr: z.number(),
  /** Wilson score interval of the CTR. */
  ctr_interval: intervalSchema,
});

export const comparisonSchema = z.strictObject({
  /** The treatment arm, compared with the experiment's control. */
  arm: z.string(),
  /** CTR difference (treatment − control) with its unpooled interval. */
  difference: z.number(),
  difference_interval: intervalSchema,
  /** Relative lift and its delta-method interval; null while the control has no clicks. */
  lift: z.number().nullable(),
  lift_interval: intervalSchema.nullable(),
  /** Fixed-horizon two-proportion z-test: valid for one look at the planned size. */
  fixed: z.strictObject({ z: z.number(), p_value: z.number(), p_value_holm: z.number() }),
  /** Always-valid confidence sequence over the daily looks: valid at every look. */
  sequential: z.strictObject({
    difference_interval: intervalSchema,
    lift_interval: intervalSchema.nullable(),
    p_value: z.number(),
    p_value_holm: z.number(),
  }),
});

export const srmSchema = z.strictObject({
  chi_square: z.number(),
  degrees_of_freedom: z.number().int(),
  p_value: z.number(),
  /** p below 0.001: the verdict is held back. */
  mismatch: z.boolean(),
  expected_shares: z.record(z.string(), z.number()),
});

export const verdictSchema = z.strictObject({
  decision: z.enum(['ship', 'keep_control', 'keep_running', 'no_difference', 'held_back']),
  /** The arm to ship (ship), or null. */
  arm: z.string().nullable(),
  /** Which test decided: the fixed one once the planned size is reached, the sequential one before. */
  test: z.enum(['fixed', 'sequential']).nullable(),
  /** One or two sentences with the numbers. */
  reason: z.string(),
});
export type Verdict = z.infer<typeof verdictSchema>;

export const scopeReportSchema = z.strictObject({
  /** The segment (region), or null for all traffic together. */
  segment: z.string().nullable(),
  /** Days with data: the looks the sequential test took. */
  days: z.number().int().nonnegative(),
  arms: z.array(armResultSchema),
  comparisons: z.array(comparisonSchema),
  srm: srmSchema,
  verdict: verdictSchema,
});
export type ScopeReport = z.infer<typeof scopeReportSchema>;

export const experimentReportSchema = z.strictObject({
  experiment_id: z.string(),
  control: z.string(),
  alpha: z.number(),
  planned_users_per_arm: z.number().int().nullable(),
  /** The total users at which the confidence sequence is tightest (its tuning, N*). */
  sequential_tuning_users: z.number().int(),
  /** All traffic together; comparisons Holm-corrected across the treatment arms. */
  overall: scopeReportSchema,
  /** One per segment when there are several; comparisons Holm-corrected across segments × treatments. */
  segments: z.array(scopeReportSchema),
});
export type ExperimentReport = z.infer<typeof experimentReportSchema>;

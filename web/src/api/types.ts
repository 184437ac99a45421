// The studio API's shapes as the web app reads them: inferred from the server's own zod schemas (the ones its
// OpenAPI document is built from), so a change of a route's response is a type error here. Types only — nothing of
// the server is bundled.
import type { z } from 'zod';
import type { configFormSchema, preflightReportSchema } from '../../../src/server/config-form/api-schemas.js';
import type {
  captionLintSchema,
  datasetDetailSchema,
  datasetReportSchema,
  datasetSummarySchema,
  uploadResultSchema,
} from '../../../src/server/datasets/http-schemas.js';
import type { experimentSchema, newExperimentSchema } from '../../../src/experiments/model.js';
import type { experimentReportSchema } from '../../../src/experiments/report.js';
import type { loraEntrySchema } from '../../../src/server/loras/schemas.js';
import type { coverRequestBodySchema, coversResponseSchema } from '../../../src/server/routes/covers.js';
import type { planSchema } from '../../../src/server/routes/experiments.js';
import type { jobUpdateSchema } from '../../../src/server/routes/job-events.js';
import type {
  addedVersionSchema,
  addVersionBodySchema,
  continuationSchema,
  continuedSchema,
  editVersionBodySchema,
  regionSchema,
  resolveResultSchema,
  setRegionBodySchema,
  styleDetailSchema,
  styleSummarySchema,
  styleVersionSchema,
} from '../../../src/server/routes/library-schemas.js';
import type { errorBodySchema, jobLogSchema, jobResponseSchema } from '../../../src/server/schemas.js';

export type ApiErrorBody = z.infer<typeof errorBodySchema>['error'];

export type Job = z.infer<typeof jobResponseSchema>;
export type JobKind = Job['kind'];
export type JobStatus = Job['status'];
/** Statuses after which a job changes no more until someone resumes it. */
export const FINISHED_STATUSES: readonly JobStatus[] = ['done', 'failed', 'cancelled', 'interrupted'];

export type LogLine = z.infer<typeof jobLogSchema>['lines'][number];

/** One of a job's updates (`/api/jobs/{id}/events` and `/stream`). */
export type JobEvent = z.infer<typeof jobUpdateSchema>;

export type DatasetSummary = z.infer<typeof datasetSummarySchema>;
export type Dataset = z.infer<typeof datasetDetailSchema>;
export type DatasetImage = Dataset['images'][number];
export type Lint = z.infer<typeof captionLintSchema>;
export type LintFinding = Lint['findings'][number];
export type UploadResult = z.infer<typeof uploadResultSchema>;
export type PrepareReport = z.infer<typeof datasetReportSchema>;
export type PrepareReason = PrepareReport['images'][number]['reasons'][number];

export type ConfigField = z.infer<typeof configFormSchema>['fields'][number];
export type Preflight = z.infer<typeof preflightReportSchema>;
export type PreflightProblem = Preflight['problems'][number];

export type LoraSummary = z.infer<typeof loraEntrySchema>;

// Issue 17: the style library, regions, covers and A/B experiments.
export type StyleSummary = z.infer<typeof styleSummarySchema>;
export type StyleDetail = z.infer<typeof styleDetailSchema>;
export type StyleVersion = z.infer<typeof styleVersionSchema>;
export type VersionStatus = StyleVersion['status'];
export type StyleContinuation = z.infer<typeof continuationSchema>;
export type AddedStyleVersion = z.infer<typeof addedVersionSchema>;
export type AddStyleVersionBody = z.input<typeof addVersionBodySchema>;
export type EditStyleVersionBody = z.input<typeof editVersionBodySchema>;
export type ContinuedStyle = z.infer<typeof continuedSchema>;
export type RegionRule = z.infer<typeof regionSchema>;
export type PlaceLevel = RegionRule['level'];
export type SetRegionBody = z.input<typeof setRegionBodySchema>;
export type ResolvedPlace = z.infer<typeof resolveResultSchema>;
export type ResolvedStyle = NonNullable<ResolvedPlace['resolved']>;

export type CoverRequestBody = z.input<typeof coverRequestBodySchema>;
export type CoversResult = z.infer<typeof coversResponseSchema>;
export type Cover = CoversResult['covers'][number];

export type Experiment = z.infer<typeof experimentSchema>;
export type ExperimentArm = Experiment['arms'][number];
export type NewExperimentBody = z.input<typeof newExperimentSchema>;
export type ExperimentReport = z.infer<typeof experimentReportSchema>;
export type ExperimentScope = ExperimentReport['overall'];
export type ArmResult = ExperimentScope['arms'][number];
export type ArmComparison = ExperimentScope['comparisons'][number];
export type ExperimentVerdict = ExperimentScope['verdict'];
export type ExperimentPlan = z.infer<typeof planSchema>;

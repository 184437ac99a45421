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
import type { loraEntrySchema } from '../../../src/server/loras/schemas.js';
import type { jobUpdateSchema } from '../../../src/server/routes/job-events.js';
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

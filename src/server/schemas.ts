// The HTTP contract: every request and response body of the studio API as a zod schema; OpenAPI is built from these.
import { z } from '@hono/zod-openapi';
import { jobKindSchema, jobSchema, jobStatusSchema } from '../store/index.js';

/** The most jobs one list returns; a page of the studio shows far fewer. */
export const MAX_JOBS_PER_PAGE = 1000;
export const DEFAULT_JOBS_PER_PAGE = 100;
/** The most log lines one read returns; the client pages on with `from=next`. */
export const LOG_LINES_PER_PAGE = 1000;

export const errorBodySchema = z
  .strictObject({
    error: z.strictObject({
      code: z.string().min(1),
      message: z.string().min(1),
      hint: z.string().optional(),
      /** The request field at fault, as a dotted path (`limit`, `id`). */
      field: z.string().optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const versionSchema = z
  .strictObject({
    name: z.string(),
    version: z.string(),
    /** The engine protocol this server speaks. */
    protocol: z.number().int(),
  })
  .meta({ id: 'Version' });

export const jobResponseSchema = jobSchema.meta({ id: 'Job' });

export const jobListSchema = z.strictObject({ jobs: z.array(jobResponseSchema) }).meta({ id: 'JobList' });

export const jobLogSchema = z
  .strictObject({
    lines: z.array(z.strictObject({ line_no: z.number().int().nonnegative(), text: z.string() })),
    /** Pass as `from` to read the lines written after these. */
    next: z.number().int().nonnegative(),
  })
  .meta({ id: 'JobLog' });

/** Only the outline: the document's own schema is OpenAPI's, not ours to restate. */
export const openApiDocumentSchema = z
  .looseObject({
    openapi: z.string(),
    info: z.looseObject({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'OpenApiDocument' });
export type OpenApiDocument = z.infer<typeof openApiDocumentSchema>;

/** A query value of digits only (`1e2`, `0x10` and ` 5` are refused), read as a number within the range. */
export const wholeNumber = (min: number, max: number) => {
  const error = `send a whole number from ${min} to ${max}`;
  return z
    .string()
    .regex(/^\d{1,16}$/, { error })
    .pipe(z.coerce.number<string>().int().min(min, { error }).max(max, { error }));
};

export const listJobsQuerySchema = z.object({
  status: jobStatusSchema.optional(),
  kind: jobKindSchema.optional(),
  limit: wholeNumber(1, MAX_JOBS_PER_PAGE).default(DEFAULT_JOBS_PER_PAGE),
});

export const jobIdParamsSchema = z.object({ id: z.string().min(1) });

export const readLogQuerySchema = z.object({ from: wholeNumber(0, Number.MAX_SAFE_INTEGER).default(0) });

/** Cancel takes no options: a body, when one is sent, must be `{}`. */
export const cancelBodySchema = z.strictObject({});

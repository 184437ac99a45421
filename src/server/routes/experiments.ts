// A/B experiments of covers: create, assign users, ingest exposures and clicks, import daily counts, plan, report.
import { createRoute, z } from '@hono/zod-openapi';
import {
  analyseExperiment,
  assignArm,
  CSV_FORMAT_HINT,
  type Experiment,
  ExperimentError,
  type ExperimentStore,
  experimentEventSchema,
  experimentIdSchema,
  experimentReportSchema,
  experimentSchema,
  findUnknownArm,
  formatReportCsv,
  MAX_EVENTS_PER_BATCH,
  minimumDetectableLift,
  newExperimentSchema,
  openExperimentStore,
  parseCountsCsv,
  powerAt,
  usersForLift,
} from '../../experiments/index.js';
import { LoraScriptsError } from '../../errors.js';
import { databaseOf, type RouteDeps } from '../app.js';
import { createRouter } from '../router.js';
import { type ErrorBody, errorBodySchema } from '../schemas.js';
import { DEFAULT_LIMITS, RequestRefused } from '../security/index.js';
import { BAD_REQUEST, BODY_REFUSED, jsonBody, REFUSED_RESPONSES } from './responses.js';

const experimentResponseSchema = experimentSchema.meta({ id: 'Experiment' });
const newExperimentBodySchema = newExperimentSchema.meta({ id: 'NewExperiment' });
export const experimentListSchema = z
  .strictObject({ experiments: z.array(experimentResponseSchema) })
  .meta({ id: 'ExperimentList' });
export const assignmentSchema = z
  .strictObject({
    experiment_id: z.string(),
    user_id: z.string(),
    arm: z.string(),
    /** The user's place in [0, 1): the same in every process, for as long as the salt stays. */
    bucket: z.number(),
  })
  .meta({ id: 'ExperimentAssignment' });
export const ingestBodySchema = z
  .strictObject({ events: z.array(experimentEventSchema).min(1).max(MAX_EVENTS_PER_BATCH) })
  .meta({ id: 'ExperimentEvents' });
export const ingestResultSchema = z
  .strictObject({ accepted: z.number().int().nonnegative(), duplicates: z.number().int().nonnegative() })
  .meta({ id: 'ExperimentIngestResult' });
export const importBodySchema = z
  .strictObject({ csv: z.string().min(1).max(DEFAULT_LIMITS.bodyJsonBytes) })
  .meta({ id: 'ExperimentCountsImport' });
export const importResultSchema = z
  .strictObject({ rows: z.number().int().nonnegative() })
  .meta({ id: 'ExperimentCountsImported' });
export const reportResponseSchema = experimentReportSchema.meta({ id: 'ExperimentReport' });
export const planBodySchema = z
  .strictObject({
    baseline_ctr: z.number().gt(0).lt(1),
    /** Give the lift to get the users needed, or the users per arm to get the smallest lift detectable. */
    relative_lift: z.number().gt(0).max(10).optional(),
    users_per_arm: z.number().int().min(10).max(1e10).optional(),
    alpha: z.number().min(0.001).max(0.2).default(0.05),
    power: z.number().min(0.5).max(0.99).default(0.8),
    /** Treatment users per control user (0.25 for an 80/20 split). */
    treatment_ratio: z.number().min(0.01).max(100).default(1),
  })
  .refine((body) => (body.relative_lift === undefined) !== (body.users_per_arm === undefined), {
    error: 'give exactly one of relative_lift and users_per_arm',
    path: ['relative_lift'],
  })
  .meta({ id: 'ExperimentPlanRequest' });
export const planSchema = z
  .strictObject({
    baseline_ctr: z.number(),
    relative_lift: z.number(),
    alpha: z.number(),
    power: z.number(),
    treatment_ratio: z.number(),
    control_users: z.number().int(),
    treatment_users: z.number().int(),
    total_users: z.number().int(),
  })
  .meta({ id: 'ExperimentPlan' });

const idParams = z.object({ id: experimentIdSchema });
const errorResponse = (description: string) => jsonBody(errorBodySchema, description);
const NO_EXPERIMENT = { 404: errorResponse('No experiment with that id') } as const;
/** BAD_REQUEST without `as const` (which hides it from the handler), for routes that answer a 400 themselves. */
const BAD_FIELD = {
  400: errorResponse('A field of the request is not valid; `field` names it (a CSV: its line and column)'),
};
const WITH_JSON_BODY = <T extends z.ZodType>(schema: T) => ({
  body: { required: true as const, content: { 'application/json': { schema } } },
});

const listExperiments = createRoute({
  method: 'get',
  path: '/api/experiments',
  summary: 'Experiments, oldest first; `style` keeps those with an arm showing that library style',
  request: { query: z.object({ style: z.string().min(1).max(128).optional() }) },
  responses: { 200: jsonBody(experimentListSchema, 'The experiments'), ...BAD_REQUEST, ...REFUSED_RESPONSES },
});

const createExperiment = createRoute({
  method: 'post',
  path: '/api/experiments',
  summary:
    'Create an experiment: arms with weights, the control, the salt and optionally the plan (never edited later)',
  request: WITH_JSON_BODY(newExperimentBodySchema),
  responses: {
    201: jsonBody(experimentResponseSchema, 'The experiment, with its defaults and planned users'),
    ...BAD_REQUEST,
    409: errorResponse('An experiment with that id exists already'),
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const getExperiment = createRoute({
  method: 'get',
  path: '/api/experiments/{id}',
  summary: 'One experiment',
  request: { params: idParams },
  responses: {
    200: jsonBody(experimentResponseSchema, 'The experiment'),
    ...BAD_REQUEST,
    ...NO_EXPERIMENT,
    ...REFUSED_RESPONSES,
  },
});

const assignUser = createRoute({
  method: 'get',
  path: '/api/experiments/{id}/assign',
  summary: "The arm a user gets: a hash of the experiment's salt and the user id (no state, stable forever)",
  request: { params: idParams, query: z.object({ user_id: z.string().min(1).max(256) }) },
  responses: { 200: jsonBody(assignmentSchema, 'The arm'), ...BAD_REQUEST, ...NO_EXPERIMENT, ...REFUSED_RESPONSES },
});

const ingestEvents = createRoute({
  method: 'post',
  path: '/api/experiments/{id}/events',
  summary: `Exposures and clicks, at most ${MAX_EVENTS_PER_BATCH} a batch; an event id seen before changes nothing`,
  request: { params: idParams, ...WITH_JSON_BODY(ingestBodySchema) },
  responses: {
    200: jsonBody(ingestResultSchema, 'How many events were new and how many were repeats'),
    ...BAD_FIELD,
    ...NO_EXPERIMENT,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const importCounts = createRoute({
  method: 'post',
  path: '/api/experiments/{id}/counts',
  summary:
    'Import aggregated counts as CSV (day,arm,users,clicks[,segment]); a row replaces the same day, arm, segment',
  request: { params: idParams, ...WITH_JSON_BODY(importBodySchema) },
  responses: {
    200: jsonBody(importResultSchema, 'Rows imported'),
    ...BAD_FIELD,
    ...NO_EXPERIMENT,
    ...BODY_REFUSED,
    ...REFUSED_RESPONSES,
  },
});

const readReport = createRoute({
  method: 'get',
  path: '/api/experiments/{id}/report',
  summary: 'The analysis: CTR per arm, lift, fixed and sequential tests, SRM, Holm across segments, and the verdict',
  request: { params: idParams },
  responses: {
    200: jsonBody(reportResponseSchema, 'The report'),
    ...BAD_REQUEST,
    ...NO_EXPERIMENT,
    ...REFUSED_RESPONSES,
  },
});

const readReportCsv = createRoute({
  method: 'get',
  path: '/api/experiments/{id}/report.csv',
  summary: 'The report as CSV: one row per segment and arm',
  request: { params: idParams },
  responses: {
    200: { description: 'The report', content: { 'text/csv': { schema: z.string() } } },
    ...BAD_REQUEST,
    ...NO_EXPERIMENT,
    ...REFUSED_RESPONSES,
  },
});

const planExperiment = createRoute({
  method: 'post',
  path: '/api/experiments/plan',
  summary: 'Sample size for a lift, or the smallest lift detectable with given users (two-sided, fixed horizon)',
  request: WITH_JSON_BODY(planBodySchema),
  responses: { 200: jsonBody(planSchema, 'The plan'), ...BAD_REQUEST, ...BODY_REFUSED, ...REFUSED_RESPONSES },
});

export function experimentRoutes(deps: RouteDeps) {
  let opened: Promise<ExperimentStore> | undefined;
  // Opened on first use: a server that never runs an experiment never touches the tables.
  const store = () => {
    opened ??= openExperimentStore(databaseOf(deps));
    return opened;
  };
  const requireExperiment = async (id: string): Promise<Experiment> => {
    const experiment = await (await store()).getExperiment(id);
    if (experiment === null) throw new RequestRefused(404, `no experiment \`${id}\``, { code: 'experiment_not_found' });
    return experiment;
  };
  const report = async (id: string) =>
    analyseExperiment(await requireExperiment(id), await (await store()).dailyCounts(id));

  return createRouter()
    .openapi(listExperiments, async (c) => {
      const { style } = c.req.valid('query');
      const all = await (await store()).listExperiments();
      const experiments =
        style === undefined ? all : all.filter((each) => each.arms.some((arm) => arm.style === style));
      return c.json({ experiments }, 200);
    })
    .openapi(planExperiment, (c) => c.json(plan(c.req.valid('json')), 200))
    .openapi(createExperiment, async (c) => {
      try {
        return c.json(await (await store()).createExperiment(c.req.valid('json')), 201);
      } catch (error) {
        if (error instanceof ExperimentError && error.code === 'experiment_exists') {
          const body: ErrorBody = {
            error: { code: error.code, message: error.message, hint: error.hint, field: 'id' },
          };
          return c.json(body, 409);
        }
        throw error;
      }
    })
    .openapi(getExperiment, async (c) => c.json(await requireExperiment(c.req.valid('param').id), 200))
    .openapi(assignUser, async (c) => {
      const experiment = await requireExperiment(c.req.valid('param').id);
      const { user_id } = c.req.valid('query');
      return c.json({ experiment_id: experiment.id, user_id, ...assignArm(experiment, user_id) }, 200);
    })
    .openapi(ingestEvents, async (c) => {
      const experiment = await requireExperiment(c.req.valid('param').id);
      const { events } = c.req.valid('json');
      const unknown = findUnknownArm(experiment, events);
      if (unknown !== null) {
        const field = `events.${unknown}.arm`;
        const arms = experiment.arms.map((arm) => arm.name).join(', ');
        const body: ErrorBody = {
          error: {
            code: 'invalid_request',
            message: `body field \`${field}\`: no such arm in experiment \`${experiment.id}\``,
            hint: `the arms are ${arms}; leave arm out to use the assigned one`,
            field,
          },
        };
        return c.json(body, 400);
      }
      return c.json(await (await store()).ingestEvents(experiment.id, events), 200);
    })
    .openapi(importCounts, async (c) => {
      const experiment = await requireExperiment(c.req.valid('param').id);
      const rows = parseCsvForRequest(c.req.valid('json').csv, experiment);
      if ('error' in rows) return c.json(rows, 400);
      return c.json(await (await store()).importCounts(experiment.id, rows), 200);
    })
    .openapi(readReport, async (c) => c.json(await report(c.req.valid('param').id), 200))
    .openapi(readReportCsv, async (c) => {
      const csv = formatReportCsv(await report(c.req.valid('param').id));
      return c.body(csv, 200, { 'content-type': 'text/csv; charset=utf-8' });
    });
}

/** The CSV's rows, or the 400 body naming the line and column (as `field: csv`). */
function parseCsvForRequest(csv: string, experiment: Experiment) {
  try {
    return parseCountsCsv(
      csv,
      experiment.arms.map((arm) => arm.name),
    );
  } catch (error) {
    if (!(error instanceof LoraScriptsError)) throw error;
    const body: ErrorBody = { error: { code: error.code, message: error.line, hint: CSV_FORMAT_HINT, field: 'csv' } };
    return body;
  }
}

function plan(body: z.infer<typeof planBodySchema>): z.infer<typeof planSchema> {
  const common = { baselineRate: body.baseline_ctr, alpha: body.alpha, treatmentRatio: body.treatment_ratio };
  const relativeLift =
    body.relative_lift ?? minimumDetectableLift({ ...common, power: body.power, controlUsers: body.users_per_arm! });
  const users =
    body.users_per_arm === undefined
      ? usersForLift({ ...common, power: body.power, relativeLift })
      : { control: body.users_per_arm, treatment: Math.ceil(body.users_per_arm * body.treatment_ratio) };
  const power = powerAt({ ...common, relativeLift, controlUsers: users.control });
  return {
    baseline_ctr: body.baseline_ctr,
    relative_lift: relativeLift,
    alpha: body.alpha,
    power,
    treatment_ratio: body.treatment_ratio,
    control_users: users.control,
    treatment_users: users.treatment,
    total_users: users.control + users.treatment,
  };
}

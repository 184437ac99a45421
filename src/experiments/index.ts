// A/B experiments of covers: deterministic assignment, idempotent ingestion, imported daily counts, and the analysis
// (Wilson intervals, delta-method lift, fixed and always-valid tests, SRM, Holm, planner) with a plain verdict.

/**
 * What an experiment, an event and a day of counts are (zod schemas shared by the routes and the CLI).
 * @example newExperimentSchema.parse({ id: 'jiangnan-cover', arms: [{ name: 'generic', weight: 1 }, { name: 'regional', weight: 1 }] })
 */
export {
  type Arm,
  armSchema,
  clickEventSchema,
  type DailyCount,
  type Experiment,
  type ExperimentEvent,
  experimentEventSchema,
  experimentIdSchema,
  experimentSchema,
  exposureEventSchema,
  type IngestResult,
  MAX_EVENTS_PER_BATCH,
  type NewExperiment,
  newExperimentSchema,
} from './model.js';
/**
 * Daily counts → the report with its verdict (pure).
 * @example const report = analyseExperiment(experiment, await store.dailyCounts(experiment.id));
 */
export { analyseExperiment, plannedUsers } from './analysis.js';
export {
  armResultSchema,
  comparisonSchema,
  type ExperimentReport,
  experimentReportSchema,
  type ScopeReport,
  scopeReportSchema,
  srmSchema,
  type Verdict,
  verdictSchema,
} from './report.js';
/** The report as CSV rows (one per segment and arm). */
export { formatReportCsv } from './report-csv.js';
/** Aggregated counts as CSV, one row per arm and day: parsed with errors naming the line and column. */
export { CSV_FORMAT_HINT, formatCountsCsv, parseCountsCsv } from './counts-csv.js';
/**
 * The store: the SQLite file or PostgreSQL behind the same interface; `openExperimentStore` picks by location.
 * @example const store = await openExperimentStore(databaseLocation(flags.db, workspace));
 */
export {
  assignArm,
  dayOf,
  ExperimentError,
  type ExperimentStore,
  experimentNotFound,
  findUnknownArm,
} from './store.js';
export { openSqliteExperimentStore, type SqliteExperimentStoreOptions } from './sqlite-store.js';
export { type PostgresExperimentStoreOptions, postgresExperimentStore } from './postgres-store.js';
export { openExperimentStore } from './open-store.js';
/** The statistics, each a pure function with reference tests. */
export { bucketOf, fnv1a32 } from './stats/assignment.js';
export { chiSquareUpper, erfc, normalCdf, normalQuantile, twoSidedP } from './stats/distributions.js';
export { holmAdjust } from './stats/holm.js';
export { minimumDetectableLift, powerAt, usersForLift } from './stats/planner.js';
export { relativeLift, twoProportionTest, wilsonInterval } from './stats/proportions.js';
export { confidenceSequence, DEFAULT_TUNING_USERS, runningConfidenceSequence } from './stats/sequential.js';
export { SRM_P_THRESHOLD, sampleRatioCheck } from './stats/srm.js';
/** Seeded synthetic traffic with a known CTR per arm (tests, the bench, the traffic simulator). */
export { binomial, seededRandom, simulateDailyCounts, simulateTraffic, type TrafficPlan } from './simulate.js';

// The job store: job records, their lifecycle and where they are kept (SQLite or PostgreSQL, one interface).

/**
 * The job record and its pure lifecycle.
 * @example const running = transition(queuedJob, { type: 'start' }, new Date().toISOString());
 */
export {
  ALLOWED_EVENTS,
  type Job,
  type JobError,
  type JobEvent,
  type JobEventType,
  type JobKind,
  type JobProgress,
  type JobStatus,
  jobKindSchema,
  jobSchema,
  jobStatusSchema,
  type NewJob,
  newJobSchema,
  transition,
} from './job-state.js';
/** What watchers of a job see, kept in the store; the server's feed and stream read them with `readUpdates`. */
export {
  type JobUpdate,
  type JobUpdateType,
  jobUpdateMetaSchema,
  type NewJobUpdate,
  newJobUpdateSchema,
} from './job-updates.js';
/**
 * Opens the embedded store; a restarted server calls `markRunningAsInterrupted()` first.
 * @example const store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
 */
export { openSqliteDatabase, openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
/** Where the records are: SQLite (default) or PostgreSQL; every area opens its store from a location. */
export {
  closeDatabases,
  type DatabaseLocation,
  databaseLocation,
  describeDatabase,
  openJobStore,
} from './database.js';
/**
 * The process's PostgreSQL pool per URL, migrated on first open, and one transaction on it; every area's PostgreSQL
 * store queries through these.
 * @example const pool = await openPostgresPool(url); await withTransaction(pool, (client) => client.query('…'));
 */
export {
  closePostgresPools,
  connectPostgres,
  openPostgresPool,
  redactPostgresUrl,
  withTransaction,
} from './postgres-pool.js';
export { migratePostgres, POSTGRES_MIGRATIONS } from './postgres-migrations.js';
/** The job store on PostgreSQL (several servers on one database); `openJobStore` picks it for a `postgres://` location. */
export { openPostgresStore, type PostgresStoreOptions, postgresJobStore } from './postgres.js';
/** The store file inside a workspace (the server's, the library's and the CLI's alike). */
export { STORE_FILE, workspaceStoreFile } from './workspace-file.js';
export type { Migration } from './sqlite-migrations.js';
/** Every store error carries one of the codes listed on the class. */
export { jobNotFound, StoreError } from './store-error.js';
export type { JobLogLine, JobStore, ListJobsFilter, ReadLogOptions, ReadUpdatesOptions } from './types.js';

// The PostgreSQL schema as numbered migrations on the same version line as SQLite's (jobs 1–2, library 3,
// experiments 4), so a version means the same tables on either backend. A released migration is never edited.
import type { PoolClient } from 'pg';
import { EXPERIMENT_POSTGRES_MIGRATIONS } from '../experiments/postgres-migrations.js';
import { LIBRARY_POSTGRES_MIGRATIONS } from '../library/postgres-migrations.js';
import type { Migration } from './sqlite-migrations.js';
import { StoreError } from './store-error.js';

/**
 * The job tables. JSON fields are JSONB (queryable with `->>`); timestamps stay ISO TEXT, as in SQLite, so a job reads
 * back identical on either backend.
 */
const JOB_POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs and job logs',
    sql: `
      CREATE TABLE jobs (
        -- FIFO order that does not depend on the clock's resolution
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id TEXT NOT NULL CONSTRAINT jobs_id_unique UNIQUE,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        device TEXT NOT NULL,
        config JSONB NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        progress JSONB,
        error JSONB,
        outputs JSONB NOT NULL,
        resume_from TEXT,
        attempts INTEGER NOT NULL
      );
      CREATE INDEX jobs_by_status_device ON jobs (status, device, seq);
      -- the one-device-job-per-device rule, kept even by a writer (or a second server) that forgets to check
      CREATE UNIQUE INDEX jobs_one_running_per_device ON jobs (device) WHERE status = 'running';
      CREATE TABLE job_logs (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (job_id, line_no)
      );
    `,
  },
  {
    version: 2,
    name: 'job updates',
    sql: `
      -- what watchers of a job see, numbered from 1 per job (see job-updates.ts)
      CREATE TABLE job_updates (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        at TEXT NOT NULL,
        data JSONB NOT NULL,
        PRIMARY KEY (job_id, seq)
      );
    `,
  },
];

/** Every area's PostgreSQL migrations on one version line, in order (the areas' lists are their own files). */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  ...JOB_POSTGRES_MIGRATIONS,
  ...LIBRARY_POSTGRES_MIGRATIONS,
  ...EXPERIMENT_POSTGRES_MIGRATIONS,
].sort((a, b) => a.version - b.version);

// Held for the migration's transaction: two servers starting at once on one database take turns, and the second
// finds nothing left to do. Any constant works as long as nothing else in the database uses it ("lora" in ASCII).
const MIGRATION_LOCK = 0x6c6f7261;

/**
 * Applies the migrations newer than the database's `schema_version` in one transaction on `client` (which must not be
 * in a transaction). `where` names the database in errors. Returns the versions it applied.
 */
export async function migratePostgres(
  client: PoolClient,
  where: string,
  migrations: readonly Migration[] = POSTGRES_MIGRATIONS,
): Promise<number[]> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    const current = await currentVersion(client);
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) throw tooNew(where, current, latest);
    const pending = migrations.filter((migration) => migration.version > current);
    for (const migration of pending) {
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_version (version, name) VALUES ($1, $2)', [
        migration.version,
        migration.name,
      ]);
    }
    await client.query('COMMIT');
    return pending.map((migration) => migration.version);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

async function currentVersion(client: PoolClient): Promise<number> {
  const { rows } = await client.query<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_version');
  return rows[0]?.version ?? 0;
}

function tooNew(where: string, current: number, latest: number): StoreError {
  return new StoreError(`the store is at schema version ${current}, this lora-scripts knows up to ${latest}`, {
    code: 'store_too_new',
    culprit: where,
    hint: 'upgrade lora-scripts, or point `--db` at another database',
  });
}

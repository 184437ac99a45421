// The SQLite schema as numbered migrations; a migration, once released, is never edited: add the next number instead.
import type { Database } from 'better-sqlite3';
import { EXPERIMENT_MIGRATIONS } from '../experiments/sqlite-migrations.js';
import { LIBRARY_MIGRATIONS } from '../library/sqlite-migrations.js';
import { StoreError } from './store-error.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The job tables; the library's and the experiments' come from their own areas (versions given out in order). */
const JOB_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'jobs and job logs',
    sql: `
      CREATE TABLE jobs (
        -- FIFO order that does not depend on the clock's resolution
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        device TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        progress TEXT,
        error TEXT,
        outputs TEXT NOT NULL,
        resume_from TEXT,
        attempts INTEGER NOT NULL
      );
      CREATE INDEX jobs_by_status_device ON jobs (status, device, seq);
      -- the one-device-job-per-device rule, kept even by a writer that forgets to check
      CREATE UNIQUE INDEX jobs_one_running_per_device ON jobs (device) WHERE status = 'running';
      CREATE TABLE job_logs (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (job_id, line_no)
      ) WITHOUT ROWID;
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
        data TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
      ) WITHOUT ROWID;
    `,
  },
];

/**
 * Every area's migrations on one version line, in order. Versions are given out per area ahead of time (jobs 1–2,
 * library 3, experiments 4; next free: 5) so that two areas never claim the same one.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  ...JOB_MIGRATIONS,
  ...LIBRARY_MIGRATIONS,
  ...EXPERIMENT_MIGRATIONS,
].sort((a, b) => a.version - b.version);

/**
 * Applies the migrations newer than the file's `schema_version`, all in one transaction (a second server opening the
 * same file waits, then finds nothing to do). Returns the versions it applied.
 */
export function migrate(db: Database, migrations: readonly Migration[] = SQLITE_MIGRATIONS): number[] {
  const run = db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL)');
    const current = currentVersion(db);
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) throw tooNew(db.name, current, latest);
    const pending = migrations.filter((migration) => migration.version > current);
    const record = db.prepare('INSERT INTO schema_version (version, name) VALUES (?, ?)');
    for (const migration of pending) {
      db.exec(migration.sql);
      record.run(migration.version, migration.name);
    }
    return pending.map((migration) => migration.version);
  });
  return run.immediate();
}

function currentVersion(db: Database): number {
  const row = db.prepare('SELECT MAX(version) AS version FROM schema_version').get() as { version: number | null };
  return row.version ?? 0;
}

function tooNew(file: string, current: number, latest: number): StoreError {
  return new StoreError(`the store is at schema version ${current}, this lora-scripts knows up to ${latest}`, {
    code: 'store_too_new',
    culprit: file,
    hint: 'upgrade lora-scripts, or point the server at another store file',
  });
}

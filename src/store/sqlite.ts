// The job store on one SQLite file (better-sqlite3): WAL so the studio can read while the worker writes.
import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { type Job, type JobEvent, jobSchema, newJobSchema, queuedJob, transition } from './job-state.js';
import type { JobUpdate, NewJobUpdate } from './job-updates.js';
import { checkUpdate, deviceBusy, invalidJob, jobExists, statusUpdateOf } from './record-checks.js';
import { migrate } from './sqlite-migrations.js';
import { jobNotFound } from './store-error.js';
import type { JobLogLine, JobStore, ListJobsFilter, ReadLogOptions, ReadUpdatesOptions } from './types.js';

export interface SqliteStoreOptions {
  /** The clock for job timestamps. */
  now?: () => Date;
  /** Ids for jobs created without one. */
  newId?: () => string;
}

// A second server or a CLI on the same file waits this long for a write lock before failing with SQLITE_BUSY.
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating the file and its folder when missing) and migrates a SQLite job store.
 * @example const store = openSqliteStore('.lora-scripts/studio.db'); await store.markRunningAsInterrupted();
 */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): JobStore {
  const db = openSqliteDatabase(file);
  return new SqliteJobStore(db, options.now ?? (() => new Date()), options.newId ?? randomUUID);
}

/**
 * One connection to the studio's SQLite file, migrated to the latest schema of every area (jobs, library,
 * experiments). Each area's store opens its own connection on the same file; WAL lets them read while one writes.
 */
export function openSqliteDatabase(file: string): Database {
  mkdirSync(dirname(file), { recursive: true });
  const db = new BetterSqlite3(file);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

interface JobRow {
  id: string;
  kind: string;
  status: string;
  device: string;
  config: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: string | null;
  error: string | null;
  outputs: string;
  resume_from: string | null;
  attempts: number;
}

const JOB_COLUMNS =
  'id, kind, status, device, config, created_at, started_at, finished_at, progress, error, outputs, resume_from, attempts';

class SqliteJobStore implements JobStore {
  constructor(
    private readonly db: Database,
    private readonly now: () => Date,
    private readonly newId: () => string,
  ) {}

  async createJob(input: unknown): Promise<Job> {
    const parsed = newJobSchema.safeParse(input);
    if (!parsed.success) throw invalidJob(parsed.error);
    const job = queuedJob({ ...parsed.data, id: parsed.data.id ?? this.newId() }, this.timestamp());
    const row = jobToRow(job);
    this.inTransaction(() => {
      try {
        this.db.prepare(`INSERT INTO jobs (${JOB_COLUMNS}) VALUES (${JOB_COLUMNS.replace(/(\w+)/g, '@$1')})`).run(row);
      } catch (error) {
        throw translateConstraint(error, job);
      }
      this.insertUpdates(job.id, [statusUpdateOf(job)], job.created_at);
    });
    return job;
  }

  async getJob(id: string): Promise<Job | null> {
    return this.findJob(id);
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<Job[]> {
    const rows = this.db
      .prepare(
        `SELECT ${JOB_COLUMNS} FROM jobs
         WHERE (@status IS NULL OR status = @status) AND (@kind IS NULL OR kind = @kind)
         ORDER BY seq DESC LIMIT @limit`,
      )
      .all({ status: filter.status ?? null, kind: filter.kind ?? null, limit: filter.limit ?? -1 }) as JobRow[];
    return rows.map(rowToJob);
  }

  async applyEvent(id: string, event: JobEvent): Promise<Job> {
    return this.inTransaction(() => {
      const job = this.findJob(id);
      if (!job) throw jobNotFound(id);
      const at = this.timestamp();
      return this.saveJob(transition(job, event, at), at);
    });
  }

  async appendLog(id: string, lines: readonly string[]): Promise<void> {
    this.inTransaction(() => {
      if (!this.findJob(id)) throw jobNotFound(id);
      const last = this.db.prepare('SELECT MAX(line_no) AS line_no FROM job_logs WHERE job_id = ?').get(id) as {
        line_no: number | null;
      };
      const insert = this.db.prepare('INSERT INTO job_logs (job_id, line_no, text) VALUES (?, ?, ?)');
      const first = (last.line_no ?? -1) + 1;
      for (const [index, text] of lines.entries()) insert.run(id, first + index, text);
    });
  }

  async readLog(id: string, options: ReadLogOptions = {}): Promise<JobLogLine[]> {
    if (!this.findJob(id)) throw jobNotFound(id);
    return this.db
      .prepare('SELECT line_no, text FROM job_logs WHERE job_id = ? AND line_no >= ? ORDER BY line_no LIMIT ?')
      .all(id, options.fromLine ?? 0, options.limit ?? -1) as JobLogLine[];
  }

  async appendUpdates(id: string, updates: readonly NewJobUpdate[]): Promise<void> {
    const checked = updates.map(checkUpdate);
    this.inTransaction(() => {
      if (!this.findJob(id)) throw jobNotFound(id);
      this.insertUpdates(id, checked, this.timestamp());
    });
  }

  async readUpdates(id: string, options: ReadUpdatesOptions = {}): Promise<JobUpdate[]> {
    if (!this.findJob(id)) throw jobNotFound(id);
    const rows = this.db
      .prepare('SELECT seq, at, data FROM job_updates WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?')
      .all(id, options.after ?? 0, options.limit ?? -1) as { seq: number; at: string; data: string }[];
    return rows.map((row) => ({ ...(JSON.parse(row.data) as NewJobUpdate), seq: row.seq, at: row.at }));
  }

  async claimNextQueued(device: string): Promise<Job | null> {
    return this.inTransaction(() => {
      const busy = this.db.prepare("SELECT 1 FROM jobs WHERE device = ? AND status = 'running'").get(device);
      if (busy) return null;
      const row = this.db
        .prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE device = ? AND status = 'queued' ORDER BY seq LIMIT 1`)
        .get(device) as JobRow | undefined;
      if (!row) return null;
      const at = this.timestamp();
      return this.saveJob(transition(rowToJob(row), { type: 'start' }, at), at);
    });
  }

  async markRunningAsInterrupted(): Promise<Job[]> {
    return this.inTransaction(() => {
      const rows = this.db
        .prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE status = 'running' ORDER BY seq`)
        .all() as JobRow[];
      const at = this.timestamp();
      return rows.map((row) => this.saveJob(transition(rowToJob(row), { type: 'interrupt' }, at), at));
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private findJob(id: string): Job | null {
    const row = this.db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = ?`).get(id) as JobRow | undefined;
    return row ? rowToJob(row) : null;
  }

  /** Call inside a transaction: numbers on from the job's last update. */
  private insertUpdates(id: string, updates: readonly NewJobUpdate[], at: string): void {
    const last = this.db.prepare('SELECT MAX(seq) AS seq FROM job_updates WHERE job_id = ?').get(id) as {
      seq: number | null;
    };
    const insert = this.db.prepare('INSERT INTO job_updates (job_id, seq, at, data) VALUES (?, ?, ?, ?)');
    for (const [index, update] of updates.entries()) {
      insert.run(id, (last.seq ?? 0) + index + 1, at, JSON.stringify(update));
    }
  }

  /** Call inside a transaction; a change of status is also written as a `status` update. */
  private saveJob(job: Job, at: string): Job {
    const before = this.findJob(job.id);
    try {
      this.db
        .prepare(
          `UPDATE jobs SET status = @status, started_at = @started_at, finished_at = @finished_at,
           progress = @progress, error = @error, outputs = @outputs, resume_from = @resume_from,
           attempts = @attempts WHERE id = @id`,
        )
        .run(jobToRow(job));
    } catch (error) {
      throw translateConstraint(error, job);
    }
    if (before?.status !== job.status) this.insertUpdates(job.id, [statusUpdateOf(job)], at);
    return job;
  }

  // IMMEDIATE takes the write lock before the first read, so two stores on one file cannot both read
  // "no job running" and then both start one.
  private inTransaction<T>(work: () => T): T {
    return this.db.transaction(work).immediate();
  }

  private timestamp(): string {
    return this.now().toISOString();
  }
}

function jobToRow(job: Job): JobRow {
  return {
    ...job,
    config: JSON.stringify(job.config),
    progress: job.progress === null ? null : JSON.stringify(job.progress),
    error: job.error === null ? null : JSON.stringify(job.error),
    outputs: JSON.stringify(job.outputs),
  };
}

function rowToJob(row: JobRow): Job {
  return jobSchema.parse({
    ...row,
    config: JSON.parse(row.config),
    progress: row.progress === null ? null : JSON.parse(row.progress),
    error: row.error === null ? null : JSON.parse(row.error),
    outputs: JSON.parse(row.outputs),
  });
}

function translateConstraint(error: unknown, job: Job): unknown {
  if (!(error instanceof BetterSqlite3.SqliteError) || error.code !== 'SQLITE_CONSTRAINT_UNIQUE') return error;
  if (error.message.includes('jobs.device')) {
    return deviceBusy(job);
  }
  return jobExists(job);
}

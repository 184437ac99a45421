// The job store on PostgreSQL, shared by several servers: the SQLite store's behaviour (sqlite.ts) with row locks and
// advisory locks where SQLite has its one write lock. Same job lifecycle (job-state.ts), same records.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { type Job, type JobEvent, jobSchema, newJobSchema, queuedJob, transition } from './job-state.js';
import type { JobUpdate, NewJobUpdate } from './job-updates.js';
import { checkUpdate, deviceBusy, invalidJob, jobExists, statusUpdateOf } from './record-checks.js';
import { openPostgresPool, withTransaction } from './postgres-pool.js';
import type { SqliteStoreOptions } from './sqlite.js';
import { jobNotFound, StoreError } from './store-error.js';
import type { JobLogLine, JobStore, ListJobsFilter, ReadLogOptions, ReadUpdatesOptions } from './types.js';

export type PostgresStoreOptions = SqliteStoreOptions;

/**
 * The job store on the process's shared pool for `url` (migrated on first open).
 * @example const store = await openPostgresStore('postgres://studio@db/studio'); await store.claimNextQueued('cuda:0');
 */
export async function openPostgresStore(url: string, options: PostgresStoreOptions = {}): Promise<JobStore> {
  return postgresJobStore(await openPostgresPool(url), options);
}

/** The job store on a pool the caller owns and ends (a test's second "server" on one database). */
export function postgresJobStore(pool: pg.Pool, options: PostgresStoreOptions = {}): JobStore {
  return new PostgresJobStore(pool, options.now ?? (() => new Date()), options.newId ?? randomUUID);
}

interface JobRow {
  id: string;
  kind: string;
  status: string;
  device: string;
  config: unknown;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: unknown;
  error: unknown;
  outputs: unknown;
  resume_from: string | null;
  attempts: number;
}

const JOB_COLUMNS =
  'id, kind, status, device, config, created_at, started_at, finished_at, progress, error, outputs, resume_from, attempts';

// Advisory lock classes (the first key of pg_advisory_xact_lock(int, int)); the second key is a hash of the id or
// device. A hash collision only makes two unrelated jobs or devices take turns.
const JOB_NUMBERING_LOCK = 0x6a6f6273; // a job's log lines and updates are numbered one writer at a time
const DEVICE_CLAIM_LOCK = 0x64657673; // one claim per device at a time, across servers

const UNIQUE_VIOLATION = '23505';

// Status changes lock the job's row FOR NO KEY UPDATE, not FOR UPDATE: inserting a log line or an update checks its
// foreign key with a KEY SHARE lock on the same row, which FOR UPDATE would block (and, with the numbering lock held
// the other way round, deadlock).

type Queryable = pg.Pool | pg.PoolClient;

class PostgresJobStore implements JobStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => Date,
    private readonly newId: () => string,
  ) {}

  async createJob(input: unknown): Promise<Job> {
    const parsed = newJobSchema.safeParse(input);
    if (!parsed.success) throw invalidJob(parsed.error);
    const job = queuedJob({ ...parsed.data, id: parsed.data.id ?? this.newId() }, this.timestamp());
    const row = jobToRow(job);
    await withTransaction(this.pool, async (client) => {
      try {
        await client.query(
          `INSERT INTO jobs (${JOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [
            row.id,
            row.kind,
            row.status,
            row.device,
            row.config,
            row.created_at,
            row.started_at,
            row.finished_at,
            row.progress,
            row.error,
            row.outputs,
            row.resume_from,
            row.attempts,
          ],
        );
      } catch (error) {
        throw translateConstraint(error, job);
      }
      await insertUpdates(client, job.id, [statusUpdateOf(job)], job.created_at);
    });
    return job;
  }

  async getJob(id: string): Promise<Job | null> {
    return findJob(this.pool, id);
  }

  async listJobs(filter: ListJobsFilter = {}): Promise<Job[]> {
    const { rows } = await this.pool.query<JobRow>(
      `SELECT ${JOB_COLUMNS} FROM jobs
       WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2)
       ORDER BY seq DESC LIMIT $3`,
      [filter.status ?? null, filter.kind ?? null, filter.limit ?? null],
    );
    return rows.map(rowToJob);
  }

  async applyEvent(id: string, event: JobEvent): Promise<Job> {
    return withTransaction(this.pool, async (client) => {
      const job = await findJob(client, id, 'FOR NO KEY UPDATE');
      if (!job) throw jobNotFound(id);
      const at = this.timestamp();
      return saveJob(client, job, transition(job, event, at), at);
    });
  }

  async appendLog(id: string, lines: readonly string[]): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      if (!(await findJob(client, id))) throw jobNotFound(id);
      await lockNumbering(client, id);
      const { rows } = await client.query<{ line_no: number | null }>(
        'SELECT MAX(line_no) AS line_no FROM job_logs WHERE job_id = $1',
        [id],
      );
      const first = (rows[0]?.line_no ?? -1) + 1;
      if (lines.length === 0) return;
      // one statement for the whole batch: the lines arrive as an array, numbered from `first`
      await client.query(
        `INSERT INTO job_logs (job_id, line_no, text)
         SELECT $1, $2 + ordinality::int - 1, text FROM unnest($3::text[]) WITH ORDINALITY AS line(text, ordinality)`,
        [id, first, lines],
      );
    });
  }

  async readLog(id: string, options: ReadLogOptions = {}): Promise<JobLogLine[]> {
    if (!(await findJob(this.pool, id))) throw jobNotFound(id);
    const { rows } = await this.pool.query<JobLogLine>(
      'SELECT line_no, text FROM job_logs WHERE job_id = $1 AND line_no >= $2 ORDER BY line_no LIMIT $3',
      [id, options.fromLine ?? 0, options.limit ?? null],
    );
    return rows;
  }

  async appendUpdates(id: string, updates: readonly NewJobUpdate[]): Promise<void> {
    const checked = updates.map(checkUpdate);
    await withTransaction(this.pool, async (client) => {
      if (!(await findJob(client, id))) throw jobNotFound(id);
      await insertUpdates(client, id, checked, this.timestamp());
    });
  }

  async readUpdates(id: string, options: ReadUpdatesOptions = {}): Promise<JobUpdate[]> {
    if (!(await findJob(this.pool, id))) throw jobNotFound(id);
    const { rows } = await this.pool.query<{ seq: number; at: string; data: NewJobUpdate }>(
      'SELECT seq, at, data FROM job_updates WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
      [id, options.after ?? 0, options.limit ?? null],
    );
    return rows.map((row) => ({ ...row.data, seq: row.seq, at: row.at }));
  }

  async claimNextQueued(device: string): Promise<Job | null> {
    return withTransaction(this.pool, async (client) => {
      // Claims for one device take turns, so the "is one running?" read below sees the claim committed before it
      // (READ COMMITTED: each statement reads what was committed when it began).
      await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [DEVICE_CLAIM_LOCK, device]);
      const busy = await client.query("SELECT 1 FROM jobs WHERE device = $1 AND status = 'running'", [device]);
      if (busy.rowCount) return null;
      // SKIP LOCKED: a queued job whose row another transaction is changing (a cancel) is passed over, not waited on
      const { rows } = await client.query<JobRow>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE device = $1 AND status = 'queued'
         ORDER BY seq LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED`,
        [device],
      );
      const row = rows[0];
      if (!row) return null;
      const job = rowToJob(row);
      const at = this.timestamp();
      try {
        return await saveJob(client, job, transition(job, { type: 'start' }, at), at);
      } catch (error) {
        // a job was started on the device by `applyEvent` (not a claim) since the check above: nothing to claim
        if (error instanceof StoreError && error.code === 'device_busy') return null;
        throw error;
      }
    });
  }

  async markRunningAsInterrupted(): Promise<Job[]> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<JobRow>(
        `SELECT ${JOB_COLUMNS} FROM jobs WHERE status = 'running' ORDER BY seq FOR NO KEY UPDATE`,
      );
      const at = this.timestamp();
      const interrupted: Job[] = [];
      for (const row of rows) {
        const job = rowToJob(row);
        interrupted.push(await saveJob(client, job, transition(job, { type: 'interrupt' }, at), at));
      }
      return interrupted;
    });
  }

  /** The pool is the process's, shared with the other stores on this database; `closeDatabases()` ends it. */
  async close(): Promise<void> {}

  private timestamp(): string {
    return this.now().toISOString();
  }
}

async function findJob(db: Queryable, id: string, lock: '' | 'FOR NO KEY UPDATE' = ''): Promise<Job | null> {
  const { rows } = await db.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1 ${lock}`, [id]);
  return rows[0] ? rowToJob(rows[0]) : null;
}

/** Call inside a transaction: the lock is held until it ends. */
async function lockNumbering(client: pg.PoolClient, id: string): Promise<void> {
  await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [JOB_NUMBERING_LOCK, id]);
}

/** Call inside a transaction: numbers on from the job's last update. */
async function insertUpdates(
  client: pg.PoolClient,
  id: string,
  updates: readonly NewJobUpdate[],
  at: string,
): Promise<void> {
  if (updates.length === 0) return;
  await lockNumbering(client, id);
  const { rows } = await client.query<{ seq: number | null }>(
    'SELECT MAX(seq) AS seq FROM job_updates WHERE job_id = $1',
    [id],
  );
  await client.query(
    `INSERT INTO job_updates (job_id, seq, at, data)
     SELECT $1, $2 + ordinality::int, $3, data FROM unnest($4::jsonb[]) WITH ORDINALITY AS batch(data, ordinality)`,
    [id, rows[0]?.seq ?? 0, at, updates.map((update) => JSON.stringify(update))],
  );
}

/** Call inside a transaction, holding the job's row lock; a change of status is also written as a `status` update. */
async function saveJob(client: pg.PoolClient, before: Job, job: Job, at: string): Promise<Job> {
  const row = jobToRow(job);
  try {
    await client.query(
      `UPDATE jobs SET status = $2, started_at = $3, finished_at = $4, progress = $5, error = $6, outputs = $7,
       resume_from = $8, attempts = $9 WHERE id = $1`,
      [
        row.id,
        row.status,
        row.started_at,
        row.finished_at,
        row.progress,
        row.error,
        row.outputs,
        row.resume_from,
        row.attempts,
      ],
    );
  } catch (error) {
    throw translateConstraint(error, job);
  }
  if (before.status !== job.status) await insertUpdates(client, job.id, [statusUpdateOf(job)], at);
  return job;
}

/** JSON fields as JSON text for their JSONB columns (pg would send a JS array as a PostgreSQL array). */
function jobToRow(job: Job): JobRow {
  return {
    ...job,
    config: JSON.stringify(job.config),
    progress: job.progress === null ? null : JSON.stringify(job.progress),
    error: job.error === null ? null : JSON.stringify(job.error),
    outputs: JSON.stringify(job.outputs),
  };
}

/** pg parses JSONB columns itself. */
function rowToJob(row: JobRow): Job {
  return jobSchema.parse(row);
}

function translateConstraint(error: unknown, job: Job): unknown {
  if (!(error instanceof pg.DatabaseError) || error.code !== UNIQUE_VIOLATION) return error;
  if (error.constraint === 'jobs_one_running_per_device') {
    return deviceBusy(job);
  }
  return jobExists(job);
}

// The job store's contract: what the server and the worker may ask of any backend (SQLite now, PostgreSQL later).
import type { Job, JobEvent, JobKind, JobStatus, NewJob } from './job-state.js';
import type { JobUpdate, NewJobUpdate } from './job-updates.js';

export interface ListJobsFilter {
  status?: JobStatus;
  kind?: JobKind;
  /** At most this many, newest first. */
  limit?: number;
}

export interface ReadLogOptions {
  /** The first line to return; lines are numbered from 0, so pass the last `line_no` + 1 to page on. */
  fromLine?: number;
  limit?: number;
}

export interface ReadUpdatesOptions {
  /** Only updates with a larger `seq` (0: from the first). */
  after?: number;
  limit?: number;
}

export interface JobLogLine {
  line_no: number;
  text: string;
}

/**
 * Every method is async so that a networked backend fits the same shape. Each write is atomic: a job is never seen
 * half-updated, and two servers on the same database never claim the same job.
 */
export interface JobStore {
  /** A new job, queued, with `attempts: 0`. Throws `invalid_job` or `job_exists`. */
  createJob(job: NewJob): Promise<Job>;
  /** The job, or null when there is none with that id. */
  getJob(id: string): Promise<Job | null>;
  /** Newest first. */
  listJobs(filter?: ListJobsFilter): Promise<Job[]>;
  /** Applies `transition` to the stored job and saves the result. Throws `job_not_found`, `illegal_job_transition`. */
  applyEvent(id: string, event: JobEvent): Promise<Job>;
  /** Appends lines after the job's last line. Throws `job_not_found`. */
  appendLog(id: string, lines: readonly string[]): Promise<void>;
  /** The job's log lines in order. Throws `job_not_found`. */
  readLog(id: string, options?: ReadLogOptions): Promise<JobLogLine[]>;
  /** Appends updates after the job's last one, numbered on. Throws `job_not_found`, `invalid_job_update`. */
  appendUpdates(id: string, updates: readonly NewJobUpdate[]): Promise<void>;
  /**
   * The job's updates in order. Besides those appended, the store writes a `status` update in the same transaction as
   * each status change (creation included), so a watcher never misses one. Throws `job_not_found`.
   */
  readUpdates(id: string, options?: ReadUpdatesOptions): Promise<JobUpdate[]>;
  /**
   * Takes the oldest queued job for `device` and marks it running, or returns null when there is none or when a job
   * is already running on that device (one device job at a time).
   */
  claimNextQueued(device: string): Promise<Job | null>;
  /** What a restarted server calls first: every running job (its process died with the server) becomes interrupted. */
  markRunningAsInterrupted(): Promise<Job[]>;
  close(): Promise<void>;
}

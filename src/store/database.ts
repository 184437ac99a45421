// Where the studio's records live: the workspace's SQLite file (the default, one machine) or a PostgreSQL server that
// several machines share (`--db postgres://…`). Every area (jobs, library, experiments) opens its store from this.
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { openPostgresStore } from './postgres.js';
import { closePostgresPools, redactPostgresUrl } from './postgres-pool.js';
import { openSqliteStore, type SqliteStoreOptions } from './sqlite.js';
import type { JobStore } from './types.js';
import { workspaceStoreFile } from './workspace-file.js';

export type DatabaseLocation = { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };

const POSTGRES_URL = /^postgres(ql)?:\/\//;

/**
 * The `--db` flag as a location: a `postgres://` URL, or a SQLite file path (relative to `cwd`); none: the workspace's.
 * @example databaseLocation(undefined, '/srv/ws') // { kind: 'sqlite', file: '/srv/ws/.lora-scripts/studio.db' }
 */
export function databaseLocation(db: string | undefined, workspace: string, cwd = process.cwd()): DatabaseLocation {
  if (db === undefined) return { kind: 'sqlite', file: workspaceStoreFile(workspace) };
  if (POSTGRES_URL.test(db)) return { kind: 'postgres', url: db };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db)) {
    throw new UsageError(`\`${redactPostgresUrl(db)}\` is not a database this tool keeps its records in`, {
      code: 'unknown_database',
      culprit: '--db',
      hint: 'give a `postgres://user:pass@host:5432/db` URL, or leave `--db` out for the workspace SQLite file',
    });
  }
  return { kind: 'sqlite', file: resolve(cwd, db) };
}

/** For log lines: the file, or the URL without its password. */
export function describeDatabase(location: DatabaseLocation): string {
  return location.kind === 'sqlite' ? location.file : redactPostgresUrl(location.url);
}

/** Opens (and migrates) the job store at the location. */
export async function openJobStore(location: DatabaseLocation, options: SqliteStoreOptions = {}): Promise<JobStore> {
  if (location.kind === 'sqlite') return openSqliteStore(location.file, options);
  return openPostgresStore(location.url, options);
}

/** Ends the shared PostgreSQL connection pools (a server's close); SQLite connections close with their stores. */
export async function closeDatabases(): Promise<void> {
  await closePostgresPools();
}

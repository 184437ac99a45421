// Opens the experiment store wherever the studio's database is (`--db`): the SQLite file or PostgreSQL.
import { type DatabaseLocation, openPostgresPool } from '../store/index.js';
import { postgresExperimentStore } from './postgres-store.js';
import { openSqliteExperimentStore, type SqliteExperimentStoreOptions } from './sqlite-store.js';
import type { ExperimentStore } from './store.js';

/**
 * The SQLite file's store, or PostgreSQL's on the process's shared pool, which the store's `close()` leaves open
 * (closeDatabases ends it).
 * @example const store = await openExperimentStore(databaseLocation(flags.db, workspace));
 */
export async function openExperimentStore(
  location: DatabaseLocation,
  options: SqliteExperimentStoreOptions = {},
): Promise<ExperimentStore> {
  if (location.kind === 'sqlite') return openSqliteExperimentStore(location.file, options);
  return postgresExperimentStore(await openPostgresPool(location.url), options);
}

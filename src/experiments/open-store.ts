// Opens the experiment store wherever the studio's database is (`--db`): the SQLite file or PostgreSQL.
import { type DatabaseLocation, StoreError } from '../store/index.js';
import { openSqliteExperimentStore, type SqliteExperimentStoreOptions } from './sqlite-store.js';
import type { ExperimentStore } from './store.js';

/** @example const store = await openExperimentStore(databaseLocation(flags.db, workspace)); */
export async function openExperimentStore(
  location: DatabaseLocation,
  options: SqliteExperimentStoreOptions = {},
): Promise<ExperimentStore> {
  if (location.kind === 'sqlite') return openSqliteExperimentStore(location.file, options);
  throw new StoreError('the PostgreSQL experiment store is not built yet', { code: 'not_built', culprit: '--db' });
}

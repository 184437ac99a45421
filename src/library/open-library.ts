// Opens the style library on the studio's SQLite file, or wherever the studio's database is (`openLibrary`).
import { dirname, resolve } from 'node:path';
import { type DatabaseLocation, openPostgresPool } from '../store/index.js';
import { postgresLibraryStore } from './postgres-store.js';
import { openSqliteLibraryStore } from './sqlite-store.js';
import { StoredStyleLibrary, type StyleLibrary } from './style-library.js';

export interface OpenLibraryOptions {
  /**
   * The workspace whose `library/` folder holds the versions' files; default: the one whose
   * `.lora-scripts/studio.db` `file` is.
   */
  workspace?: string;
  /** The clock for timestamps (tests). */
  now?: () => Date;
}

/**
 * Opens the library on the studio's SQLite file (migrated, its own connection).
 * @example
 * const library = openSqliteLibrary('workspace/.lora-scripts/studio.db');
 * await library.addVersion({ style: 'jiangnan_style', file: '/abs/output/jiangnan/jiangnan.safetensors', strength: 0.7 });
 * await library.changeStatus('jiangnan_style', 1, 'promote');
 * await library.setRegion({ level: 'province', place: 'Zhejiang', style: 'jiangnan_style' });
 * await library.resolvePlace({ city: 'Hangzhou', province: 'Zhejiang' }, new Date()); // { style: 'jiangnan_style', matched: 'province', … }
 * await library.resolveLoraName('jiangnan_style'); // { path: 'library/<sha256>.safetensors', strength: 0.7 }
 */
export function openSqliteLibrary(file: string, options: OpenLibraryOptions = {}): StyleLibrary {
  const workspace = resolve(options.workspace ?? dirname(dirname(resolve(file))));
  return new StoredStyleLibrary(openSqliteLibraryStore(file, options.now), workspace);
}

/**
 * Opens the library at a database location (`--db`): the SQLite file, or PostgreSQL (the process's shared pool, which
 * `close()` leaves open: closeDatabases ends it). `workspace` is where the versions' files are.
 * @example const library = await openLibrary(databaseLocation(flags.db, workspace), { workspace });
 */
export async function openLibrary(
  location: DatabaseLocation,
  options: OpenLibraryOptions & { workspace: string },
): Promise<StyleLibrary> {
  if (location.kind === 'sqlite') return openSqliteLibrary(location.file, options);
  const store = postgresLibraryStore(await openPostgresPool(location.url), options.now);
  return new StoredStyleLibrary(store, resolve(options.workspace));
}

// The library tables of the studio's SQLite file; store/sqlite-migrations.ts puts them on the one version line.
import type { Migration } from '../store/sqlite-migrations.js';

export const LIBRARY_MIGRATIONS: readonly Migration[] = [];

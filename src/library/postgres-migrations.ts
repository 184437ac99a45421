// The library tables in PostgreSQL; store/postgres-migrations.ts puts them on the one version line (3, as in SQLite).
import type { Migration } from '../store/sqlite-migrations.js';

export const LIBRARY_POSTGRES_MIGRATIONS: readonly Migration[] = [];

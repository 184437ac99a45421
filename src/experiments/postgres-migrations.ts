// The experiment tables in PostgreSQL; store/postgres-migrations.ts puts them on the one version line (4, as in SQLite).
import type { Migration } from '../store/sqlite-migrations.js';

export const EXPERIMENT_POSTGRES_MIGRATIONS: readonly Migration[] = [];

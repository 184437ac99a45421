// The experiments tables of the studio's SQLite file; store/sqlite-migrations.ts puts them on the one version line.
import type { Migration } from '../store/sqlite-migrations.js';

export const EXPERIMENT_MIGRATIONS: readonly Migration[] = [];

// The experiments tables of the studio's SQLite file; store/sqlite-migrations.ts puts them on the one version line.
import type { Migration } from '../store/sqlite-migrations.js';

export const EXPERIMENT_MIGRATIONS: readonly Migration[] = [
  {
    version: 4,
    name: 'experiments, their events, users and imported counts',
    sql: `
      -- an experiment never changes once created (a new split is a new experiment), so it is kept as one JSON value
      CREATE TABLE experiments (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        data TEXT NOT NULL
      );
      -- every ingested event once: the key is what makes a resent batch change nothing
      CREATE TABLE experiment_events (
        experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        user_id TEXT NOT NULL,
        day TEXT NOT NULL,
        PRIMARY KEY (experiment_id, event_id)
      ) WITHOUT ROWID;
      -- a click that arrives before its user's exposure is found here when the exposure comes (covering, and not
      -- partial: SQLite's planner would pick the primary key over a partial index and scan the experiment's events)
      CREATE INDEX experiment_events_by_user ON experiment_events (experiment_id, user_id, type, day);
      -- one row per exposed user: the arm and segment of the first exposure, the first day they clicked
      CREATE TABLE experiment_users (
        experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        user_id TEXT NOT NULL,
        arm TEXT NOT NULL,
        segment TEXT NOT NULL,
        exposed_day TEXT NOT NULL,
        clicked_day TEXT,
        PRIMARY KEY (experiment_id, user_id)
      ) WITHOUT ROWID;
      -- aggregated counts imported from a platform's analytics; segment '' when not split
      CREATE TABLE experiment_counts (
        experiment_id TEXT NOT NULL REFERENCES experiments (id) ON DELETE CASCADE,
        day TEXT NOT NULL,
        segment TEXT NOT NULL,
        arm TEXT NOT NULL,
        users INTEGER NOT NULL,
        clicks INTEGER NOT NULL,
        PRIMARY KEY (experiment_id, day, segment, arm)
      ) WITHOUT ROWID;
    `,
  },
];

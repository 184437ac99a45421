// The library tables of the studio's SQLite file; store/sqlite-migrations.ts puts them on the one version line.
import type { Migration } from '../store/sqlite-migrations.js';

export const LIBRARY_MIGRATIONS: readonly Migration[] = [
  {
    version: 3,
    name: 'style library and regions',
    sql: `
      CREATE TABLE library_styles (
        name TEXT PRIMARY KEY,
        prompt_template TEXT,
        created_at TEXT NOT NULL
      );
      CREATE TABLE library_versions (
        style TEXT NOT NULL REFERENCES library_styles (name) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        lora_path TEXT NOT NULL,
        source_name TEXT NOT NULL,
        base_model TEXT,
        parent_version INTEGER,
        lineage TEXT,
        steps INTEGER,
        trigger_words TEXT NOT NULL,
        strength REAL NOT NULL,
        sample_grid TEXT NOT NULL,
        notes TEXT NOT NULL,
        tags TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        status_changed_at TEXT NOT NULL,
        PRIMARY KEY (style, version),
        -- the same bytes added twice are the same version
        UNIQUE (style, sha256)
      ) WITHOUT ROWID;
      -- a style name means one file, even for a writer that forgets to retire the previous one
      CREATE UNIQUE INDEX library_one_promoted_per_style ON library_versions (style) WHERE status = 'promoted';
      CREATE TABLE library_regions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        level TEXT NOT NULL,
        place TEXT NOT NULL,
        -- place as matched (case-folded), so one place has one rule per window
        place_key TEXT NOT NULL,
        style TEXT NOT NULL REFERENCES library_styles (name),
        version INTEGER,
        starts_at TEXT,
        ends_at TEXT,
        created_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX library_regions_one_rule_per_window
        ON library_regions (level, place_key, IFNULL(starts_at, ''), IFNULL(ends_at, ''));
      CREATE TABLE library_continuations (
        job_id TEXT PRIMARY KEY,
        style TEXT NOT NULL REFERENCES library_styles (name),
        parent_version INTEGER NOT NULL,
        state TEXT NOT NULL,
        version INTEGER,
        created_at TEXT NOT NULL
      );
    `,
  },
];

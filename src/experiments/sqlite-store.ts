// The experiment store on the studio's SQLite file: a batch is one transaction, event ids are the primary key, and
// each exposed user is one row, so the daily counts are two GROUP BYs however many events came in.
import type { Database } from 'better-sqlite3';
import { openSqliteDatabase } from '../store/index.js';
import type { DailyCount, Experiment, ExperimentEvent, IngestResult, NewExperiment } from './model.js';
import {
  assignArm,
  dayOf,
  type ExperimentStore,
  experimentNotFound,
  experimentExists,
  requireKnownArms,
  requireValidCounts,
  resolveExperiment,
} from './store.js';

/** A user's first click day, looked up when their exposure arrives (a click may come first). */
export const FIRST_CLICK_SQL =
  "SELECT MIN(day) AS day FROM experiment_events WHERE experiment_id = ? AND user_id = ? AND type = 'click'";

export interface SqliteExperimentStoreOptions {
  /** The clock for `created_at`. */
  now?: () => Date;
}

/** Opens (and migrates) the studio's SQLite file for the experiments area. */
export function openSqliteExperimentStore(file: string, options: SqliteExperimentStoreOptions = {}): ExperimentStore {
  return new SqliteExperimentStore(openSqliteDatabase(file), options.now ?? (() => new Date()));
}

class SqliteExperimentStore implements ExperimentStore {
  private readonly statements;

  constructor(
    private readonly db: Database,
    private readonly now: () => Date,
  ) {
    this.statements = {
      insertEvent: db.prepare(
        'INSERT OR IGNORE INTO experiment_events (experiment_id, event_id, type, user_id, day) VALUES (?, ?, ?, ?, ?)',
      ),
      firstClick: db.prepare(FIRST_CLICK_SQL),
      insertUser: db.prepare(
        `INSERT INTO experiment_users (experiment_id, user_id, arm, segment, exposed_day, clicked_day)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (experiment_id, user_id) DO UPDATE SET exposed_day = MIN(exposed_day, excluded.exposed_day)`,
      ),
      recordClick: db.prepare(
        `UPDATE experiment_users SET clicked_day = MIN(COALESCE(clicked_day, @day), @day)
         WHERE experiment_id = @id AND user_id = @user`,
      ),
      upsertCount: db.prepare(
        `INSERT INTO experiment_counts (experiment_id, day, segment, arm, users, clicks) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (experiment_id, day, segment, arm) DO UPDATE SET users = excluded.users, clicks = excluded.clicks`,
      ),
    };
  }

  async createExperiment(input: NewExperiment): Promise<Experiment> {
    const experiment = resolveExperiment(input, this.now().toISOString());
    try {
      this.db
        .prepare('INSERT INTO experiments (id, data) VALUES (?, ?)')
        .run(experiment.id, JSON.stringify(experiment));
    } catch (error) {
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
        throw experimentExists(experiment.id);
      }
      throw error;
    }
    return experiment;
  }

  async getExperiment(id: string): Promise<Experiment | null> {
    const row = this.db.prepare('SELECT data FROM experiments WHERE id = ?').get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as Experiment) : null;
  }

  async listExperiments(): Promise<Experiment[]> {
    const rows = this.db.prepare('SELECT data FROM experiments ORDER BY seq').all() as { data: string }[];
    return rows.map((row) => JSON.parse(row.data) as Experiment);
  }

  async ingestEvents(id: string, events: readonly ExperimentEvent[]): Promise<IngestResult> {
    const experiment = await this.requireExperiment(id);
    requireKnownArms(experiment, events);
    const s = this.statements;
    const run = this.db.transaction(() => {
      let accepted = 0;
      for (const event of events) {
        const day = dayOf(event.at);
        if (s.insertEvent.run(id, event.event_id, event.type, event.user_id, day).changes === 0) continue;
        accepted++;
        if (event.type === 'click') {
          s.recordClick.run({ id, user: event.user_id, day });
          continue;
        }
        const arm = event.arm ?? assignArm(experiment, event.user_id).arm;
        const firstClick = (s.firstClick.get(id, event.user_id) as { day: string | null }).day;
        s.insertUser.run(id, event.user_id, arm, event.segment ?? '', day, firstClick);
      }
      return { accepted, duplicates: events.length - accepted };
    });
    return run.immediate();
  }

  async importCounts(id: string, rows: readonly DailyCount[]): Promise<{ rows: number }> {
    const experiment = await this.requireExperiment(id);
    requireValidCounts(experiment, rows);
    const run = this.db.transaction(() => {
      for (const row of rows) {
        this.statements.upsertCount.run(id, row.day, row.segment ?? '', row.arm, row.users, row.clicks);
      }
    });
    run.immediate();
    return { rows: rows.length };
  }

  async dailyCounts(id: string): Promise<DailyCount[]> {
    await this.requireExperiment(id);
    // Users count on the day of their first exposure; a click on the day they first clicked (never before exposure).
    const rows = this.db
      .prepare(
        `SELECT day, segment, arm, SUM(users) AS users, SUM(clicks) AS clicks FROM (
           SELECT exposed_day AS day, segment, arm, COUNT(*) AS users, 0 AS clicks
             FROM experiment_users WHERE experiment_id = @id GROUP BY exposed_day, segment, arm
           UNION ALL
           SELECT MAX(exposed_day, clicked_day) AS day, segment, arm, 0 AS users, COUNT(*) AS clicks
             FROM experiment_users WHERE experiment_id = @id AND clicked_day IS NOT NULL
             GROUP BY MAX(exposed_day, clicked_day), segment, arm
           UNION ALL
           SELECT day, segment, arm, users, clicks FROM experiment_counts WHERE experiment_id = @id
         ) GROUP BY day, segment, arm ORDER BY day, segment, arm`,
      )
      .all({ id }) as { day: string; segment: string; arm: string; users: number; clicks: number }[];
    return rows.map((row) => ({ ...row, segment: row.segment === '' ? null : row.segment }));
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private async requireExperiment(id: string): Promise<Experiment> {
    const experiment = await this.getExperiment(id);
    if (experiment === null) throw experimentNotFound(id);
    return experiment;
  }
}

// The experiment store in PostgreSQL, on the process's shared pool: the twin of sqlite-store.ts (diff the two). A batch
// is one transaction holding its experiment's row, so batches of one experiment take turns as SQLite's lock made
// them; inside it, the batch goes in as a few set statements rather than a round trip per event.
import type pg from 'pg';
import { withTransaction } from '../store/index.js';
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

/** PostgreSQL's code for a unique violation. */
const UNIQUE_VIOLATION = '23505';

export interface PostgresExperimentStoreOptions {
  /** The clock for `created_at`. */
  now?: () => Date;
}

/**
 * The experiment store on a pool from `openPostgresPool` (migrated); `close()` leaves the pool open for the other
 * areas (closeDatabases ends it).
 */
export function postgresExperimentStore(pool: pg.Pool, options: PostgresExperimentStoreOptions = {}): ExperimentStore {
  return new PostgresExperimentStore(pool, options.now ?? (() => new Date()));
}

class PostgresExperimentStore implements ExperimentStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => Date,
  ) {}

  async createExperiment(input: NewExperiment): Promise<Experiment> {
    const experiment = resolveExperiment(input, this.now().toISOString());
    try {
      await this.pool.query('INSERT INTO experiments (id, data) VALUES ($1, $2)', [
        experiment.id,
        JSON.stringify(experiment),
      ]);
    } catch (error) {
      if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
        throw experimentExists(experiment.id);
      }
      throw error;
    }
    return experiment;
  }

  async getExperiment(id: string): Promise<Experiment | null> {
    const { rows } = await this.pool.query<{ data: string }>('SELECT data FROM experiments WHERE id = $1', [id]);
    return rows[0] ? (JSON.parse(rows[0].data) as Experiment) : null;
  }

  async listExperiments(): Promise<Experiment[]> {
    const { rows } = await this.pool.query<{ data: string }>('SELECT data FROM experiments ORDER BY seq');
    return rows.map((row) => JSON.parse(row.data) as Experiment);
  }

  async ingestEvents(id: string, events: readonly ExperimentEvent[]): Promise<IngestResult> {
    const experiment = await this.requireExperiment(id);
    requireKnownArms(experiment, events);
    return withTransaction(this.pool, async (client) => {
      await client.query('SELECT 1 FROM experiments WHERE id = $1 FOR UPDATE', [id]);
      const accepted = await insertNewEvents(client, id, events);
      const { exposed, clicked } = usersOf(experiment, accepted);
      // A user's first exposure gives the arm and segment; their first click is the earliest stored (this batch's
      // included), as SQLite's event-by-event loop ends up with.
      await client.query(
        `INSERT INTO experiment_users (experiment_id, user_id, arm, segment, exposed_day, clicked_day)
         SELECT $1, batch.user_id, batch.arm, batch.segment, batch.day,
                (SELECT MIN(day) FROM experiment_events
                  WHERE experiment_id = $1 AND user_id = batch.user_id AND type = 'click')
           FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS batch (user_id, arm, segment, day)
         ON CONFLICT (experiment_id, user_id)
         DO UPDATE SET exposed_day = LEAST(experiment_users.exposed_day, EXCLUDED.exposed_day)`,
        [id, ...columns(exposed, ['user_id', 'arm', 'segment', 'day'])],
      );
      await client.query(
        `UPDATE experiment_users SET clicked_day = LEAST(COALESCE(clicked_day, batch.day), batch.day)
           FROM unnest($2::text[], $3::text[]) AS batch (user_id, day)
          WHERE experiment_id = $1 AND experiment_users.user_id = batch.user_id`,
        [id, ...columns(clicked, ['user_id', 'day'])],
      );
      return { accepted: accepted.length, duplicates: events.length - accepted.length };
    });
  }

  async importCounts(id: string, rows: readonly DailyCount[]): Promise<{ rows: number }> {
    const experiment = await this.requireExperiment(id);
    requireValidCounts(experiment, rows);
    // One statement may not update a row twice: a later row for the same day, segment and arm wins, as it does when
    // SQLite applies them one by one.
    const latest = new Map<string, { day: string; segment: string; arm: string; users: number; clicks: number }>();
    for (const row of rows) {
      const segment = row.segment ?? '';
      latest.set(JSON.stringify([row.day, segment, row.arm]), { ...row, segment });
    }
    await withTransaction(this.pool, (client) =>
      client.query(
        `INSERT INTO experiment_counts (experiment_id, day, segment, arm, users, clicks)
         SELECT $1, day, segment, arm, users, clicks
           FROM unnest($2::text[], $3::text[], $4::text[], $5::integer[], $6::integer[])
             AS batch (day, segment, arm, users, clicks)
         ON CONFLICT (experiment_id, day, segment, arm)
         DO UPDATE SET users = EXCLUDED.users, clicks = EXCLUDED.clicks`,
        [id, ...columns([...latest.values()], ['day', 'segment', 'arm', 'users', 'clicks'])],
      ),
    );
    return { rows: rows.length };
  }

  async dailyCounts(id: string): Promise<DailyCount[]> {
    await this.requireExperiment(id);
    // Users count on the day of their first exposure; a click on the day they first clicked (never before exposure).
    // SUM and COUNT are BIGINT, which pg reads as strings: cast back to INTEGER so counts are numbers, as in SQLite.
    const { rows } = await this.pool.query<{
      day: string;
      segment: string;
      arm: string;
      users: number;
      clicks: number;
    }>(
      `SELECT day, segment, arm, SUM(users)::integer AS users, SUM(clicks)::integer AS clicks FROM (
         SELECT exposed_day AS day, segment, arm, COUNT(*) AS users, 0 AS clicks
           FROM experiment_users WHERE experiment_id = $1 GROUP BY exposed_day, segment, arm
         UNION ALL
         SELECT GREATEST(exposed_day, clicked_day) AS day, segment, arm, 0 AS users, COUNT(*) AS clicks
           FROM experiment_users WHERE experiment_id = $1 AND clicked_day IS NOT NULL
           GROUP BY GREATEST(exposed_day, clicked_day), segment, arm
         UNION ALL
         SELECT day, segment, arm, users, clicks FROM experiment_counts WHERE experiment_id = $1
       ) AS counts GROUP BY day, segment, arm ORDER BY day, segment, arm`,
      [id],
    );
    return rows.map((row) => ({ ...row, segment: row.segment === '' ? null : row.segment }));
  }

  /** The pool is the process's, shared with the other areas: closeDatabases ends it, not a store. */
  async close(): Promise<void> {}

  private async requireExperiment(id: string): Promise<Experiment> {
    const experiment = await this.getExperiment(id);
    if (experiment === null) throw experimentNotFound(id);
    return experiment;
  }
}

/**
 * Inserts the batch's events whose ids are new and returns those, in batch order: an id stored before, or seen
 * earlier in the batch, is a duplicate (its first occurrence is the one kept, as in SQLite's loop).
 */
async function insertNewEvents(
  client: pg.PoolClient,
  id: string,
  events: readonly ExperimentEvent[],
): Promise<ExperimentEvent[]> {
  const firstOfEachId = new Map<string, ExperimentEvent>();
  for (const event of events) if (!firstOfEachId.has(event.event_id)) firstOfEachId.set(event.event_id, event);
  const unique = [...firstOfEachId.values()];
  const { rows } = await client.query<{ event_id: string }>(
    `INSERT INTO experiment_events (experiment_id, event_id, type, user_id, day)
     SELECT $1, event_id, type, user_id, day
       FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS batch (event_id, type, user_id, day)
     ON CONFLICT (experiment_id, event_id) DO NOTHING
     RETURNING event_id`,
    [
      id,
      unique.map((event) => event.event_id),
      unique.map((event) => event.type),
      unique.map((event) => event.user_id),
      unique.map((event) => dayOf(event.at)),
    ],
  );
  const inserted = new Set(rows.map((row) => row.event_id));
  return unique.filter((event) => inserted.has(event.event_id));
}

interface ExposedUser {
  user_id: string;
  arm: string;
  segment: string;
  day: string;
}

/** Per user in the accepted events: the first exposure's arm and segment with the earliest exposure day; the earliest click day. */
function usersOf(experiment: Experiment, accepted: readonly ExperimentEvent[]) {
  const exposed = new Map<string, ExposedUser>();
  const clicked = new Map<string, { user_id: string; day: string }>();
  for (const event of accepted) {
    const day = dayOf(event.at);
    if (event.type === 'click') {
      const seen = clicked.get(event.user_id);
      if (!seen || day < seen.day) clicked.set(event.user_id, { user_id: event.user_id, day });
      continue;
    }
    const seen = exposed.get(event.user_id);
    if (seen) {
      if (day < seen.day) seen.day = day;
      continue;
    }
    const arm = event.arm ?? assignArm(experiment, event.user_id).arm;
    exposed.set(event.user_id, { user_id: event.user_id, arm, segment: event.segment ?? '', day });
  }
  return { exposed: [...exposed.values()], clicked: [...clicked.values()] };
}

/** Rows as one array per field, for `unnest($n::type[], …)`. */
function columns<Row, Field extends keyof Row>(rows: readonly Row[], fields: readonly Field[]): Row[Field][][] {
  return fields.map((field) => rows.map((row) => row[field]));
}

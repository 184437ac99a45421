// The library's rows in PostgreSQL, on the process's shared pool: the twin of sqlite-store.ts (diff the two), so a
// record reads back identical from either. Where SQLite's one-writer lock made a write safe, a row lock does here.
import type pg from 'pg';
import { withTransaction } from '../store/index.js';
import { placeKey } from './regions.js';
import {
  type EditableVersionFields,
  type RegionRow,
  rowToRegion,
  rowToVersion,
  type VersionRow,
  versionColumnValues,
  versionToRow,
} from './store-rows.js';
import type {
  Continuation,
  LibraryStore,
  NewRegionMapping,
  NewStyleVersion,
  RegionMapping,
  Style,
  StyleVersion,
  VersionStatus,
} from './types.js';

const VERSION_FIELDS = [
  'style',
  'version',
  'sha256',
  'lora_path',
  'source_name',
  'base_model',
  'parent_version',
  'lineage',
  'steps',
  'trigger_words',
  'strength',
  'sample_grid',
  'notes',
  'tags',
  'status',
  'created_at',
  'status_changed_at',
] as const satisfies readonly (keyof VersionRow)[];
const VERSION_COLUMNS = VERSION_FIELDS.join(', ');
const REGION_COLUMNS = 'id, level, place, style, version, starts_at, ends_at, created_at';
const CONTINUATION_COLUMNS = 'job_id, style, parent_version, state, version, created_at';

/**
 * The library store on a pool from `openPostgresPool` (migrated); `close()` leaves the pool open for the other
 * areas (closeDatabases ends it).
 */
export function postgresLibraryStore(pool: pg.Pool, now: () => Date = () => new Date()): LibraryStore {
  return new PostgresLibraryStore(pool, now);
}

export class PostgresLibraryStore implements LibraryStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly now: () => Date,
  ) {}

  async getStyle(name: string): Promise<Style | null> {
    const { rows } = await this.pool.query<Style>(
      'SELECT name, prompt_template, created_at FROM library_styles WHERE name = $1',
      [name],
    );
    return rows[0] ?? null;
  }

  async listStyles(): Promise<Style[]> {
    const { rows } = await this.pool.query<Style>(
      'SELECT name, prompt_template, created_at FROM library_styles ORDER BY name',
    );
    return rows;
  }

  async upsertStyle(name: string, prompt_template: string | null | undefined): Promise<Style> {
    const { rows } = await this.pool.query<Style>(
      `INSERT INTO library_styles (name, prompt_template, created_at) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET prompt_template =
         CASE WHEN $4::boolean THEN library_styles.prompt_template ELSE EXCLUDED.prompt_template END
       RETURNING name, prompt_template, created_at`,
      [name, prompt_template ?? null, this.timestamp(), prompt_template === undefined],
    );
    return rows[0]!;
  }

  async listVersions(style: string): Promise<StyleVersion[]> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM library_versions WHERE style = $1 ORDER BY version`,
      [style],
    );
    return rows.map(rowToVersion);
  }

  async findVersionBySha(style: string, sha256: string): Promise<StyleVersion | null> {
    const { rows } = await this.pool.query<VersionRow>(
      `SELECT ${VERSION_COLUMNS} FROM library_versions WHERE style = $1 AND sha256 = $2`,
      [style, sha256],
    );
    return rows[0] ? rowToVersion(rows[0]) : null;
  }

  async insertVersion(input: NewStyleVersion): Promise<StyleVersion> {
    const at = this.timestamp();
    return withTransaction(this.pool, async (client) => {
      // The style's row lock makes "the next number" safe against a second server adding to the same style.
      await lockStyle(client, input.style);
      const { rows } = await client.query<{ version: number | null }>(
        'SELECT MAX(version) AS version FROM library_versions WHERE style = $1',
        [input.style],
      );
      const version: StyleVersion = {
        ...input,
        version: (rows[0]?.version ?? 0) + 1,
        status: 'draft',
        created_at: at,
        status_changed_at: at,
      };
      const row = versionToRow(version);
      await client.query(
        `INSERT INTO library_versions (${VERSION_COLUMNS})
         VALUES (${VERSION_FIELDS.map((_, index) => `$${index + 1}`).join(', ')})`,
        VERSION_FIELDS.map((field) => row[field]),
      );
      return version;
    });
  }

  async setStatuses(style: string, changes: readonly { version: number; status: VersionStatus }[]): Promise<void> {
    const at = this.timestamp();
    // Demotions first: the one-promoted index is checked per statement.
    const ordered = [...changes].sort((a, b) => Number(a.status === 'promoted') - Number(b.status === 'promoted'));
    await withTransaction(this.pool, async (client) => {
      await lockStyle(client, style);
      for (const change of ordered) {
        await client.query(
          'UPDATE library_versions SET status = $1, status_changed_at = $2 WHERE style = $3 AND version = $4',
          [change.status, at, style, change.version],
        );
      }
    });
  }

  async updateVersion(style: string, version: number, fields: EditableVersionFields): Promise<void> {
    const values = versionColumnValues(fields);
    const columns = Object.keys(values);
    if (columns.length === 0) return;
    const sets = columns.map((column, index) => `${column} = $${index + 1}`).join(', ');
    await this.pool.query(
      `UPDATE library_versions SET ${sets} WHERE style = $${columns.length + 1} AND version = $${columns.length + 2}`,
      [...Object.values(values), style, version],
    );
  }

  async listRegions(): Promise<RegionMapping[]> {
    const { rows } = await this.pool.query<RegionRow>(`SELECT ${REGION_COLUMNS} FROM library_regions ORDER BY id`);
    return rows.map(rowToRegion);
  }

  async upsertRegion(mapping: NewRegionMapping): Promise<RegionMapping> {
    const { rows } = await this.pool.query<RegionRow>(
      `INSERT INTO library_regions (level, place, place_key, style, version, starts_at, ends_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (level, place_key, (COALESCE(starts_at, '')), (COALESCE(ends_at, '')))
       DO UPDATE SET place = EXCLUDED.place, style = EXCLUDED.style, version = EXCLUDED.version,
                     created_at = EXCLUDED.created_at
       RETURNING ${REGION_COLUMNS}`,
      [
        mapping.level,
        mapping.place,
        placeKey(mapping.place),
        mapping.style,
        mapping.version,
        mapping.from,
        mapping.until,
        this.timestamp(),
      ],
    );
    return rowToRegion(rows[0]!);
  }

  async deleteRegion(id: number): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM library_regions WHERE id = $1', [id]);
    return (rowCount ?? 0) > 0;
  }

  async insertContinuation(input: Omit<Continuation, 'state' | 'version' | 'created_at'>): Promise<Continuation> {
    const continuation: Continuation = { ...input, state: 'pending', version: null, created_at: this.timestamp() };
    await this.pool.query(
      `INSERT INTO library_continuations (${CONTINUATION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)`,
      [
        continuation.job_id,
        continuation.style,
        continuation.parent_version,
        continuation.state,
        continuation.version,
        continuation.created_at,
      ],
    );
    return continuation;
  }

  async listContinuations(state?: Continuation['state']): Promise<Continuation[]> {
    const { rows } = await this.pool.query<Continuation>(
      `SELECT ${CONTINUATION_COLUMNS} FROM library_continuations
       WHERE ($1::text IS NULL OR state = $1) ORDER BY created_at, job_id`,
      [state ?? null],
    );
    return rows;
  }

  async settleContinuation(job_id: string, state: 'added' | 'ended', version: number | null): Promise<void> {
    await this.pool.query(
      "UPDATE library_continuations SET state = $1, version = $2 WHERE job_id = $3 AND state = 'pending'",
      [state, version, job_id],
    );
  }

  /** The pool is the process's, shared with the other areas: closeDatabases ends it, not a store. */
  async close(): Promise<void> {}

  private timestamp(): string {
    return this.now().toISOString();
  }
}

/** Holds the style's row until the transaction ends, so writers to one style take turns (as SQLite's lock made them). */
async function lockStyle(client: pg.PoolClient, style: string): Promise<void> {
  await client.query('SELECT 1 FROM library_styles WHERE name = $1 FOR UPDATE', [style]);
}

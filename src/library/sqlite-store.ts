// The library's rows in the studio's SQLite file (better-sqlite3), on a connection of its own.
import type { Database } from 'better-sqlite3';
import { openSqliteDatabase } from '../store/index.js';
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

const VERSION_COLUMNS =
  'style, version, sha256, lora_path, source_name, base_model, parent_version, lineage, steps, trigger_words, strength, sample_grid, notes, tags, status, created_at, status_changed_at';
const REGION_COLUMNS = 'id, level, place, style, version, starts_at, ends_at, created_at';

export function openSqliteLibraryStore(file: string, now: () => Date = () => new Date()): LibraryStore {
  return new SqliteLibraryStore(openSqliteDatabase(file), now);
}

class SqliteLibraryStore implements LibraryStore {
  constructor(
    private readonly db: Database,
    private readonly now: () => Date,
  ) {}

  async getStyle(name: string): Promise<Style | null> {
    const row = this.db
      .prepare('SELECT name, prompt_template, created_at FROM library_styles WHERE name = ?')
      .get(name);
    return (row as Style | undefined) ?? null;
  }

  async listStyles(): Promise<Style[]> {
    return this.db
      .prepare('SELECT name, prompt_template, created_at FROM library_styles ORDER BY name')
      .all() as Style[];
  }

  async upsertStyle(name: string, prompt_template: string | null | undefined): Promise<Style> {
    this.db
      .prepare(
        `INSERT INTO library_styles (name, prompt_template, created_at) VALUES (@name, @template, @at)
         ON CONFLICT (name) DO UPDATE SET prompt_template = CASE WHEN @keep THEN prompt_template ELSE @template END`,
      )
      .run({
        name,
        template: prompt_template ?? null,
        keep: prompt_template === undefined ? 1 : 0,
        at: this.timestamp(),
      });
    return (await this.getStyle(name))!;
  }

  async listVersions(style: string): Promise<StyleVersion[]> {
    const rows = this.db
      .prepare(`SELECT ${VERSION_COLUMNS} FROM library_versions WHERE style = ? ORDER BY version`)
      .all(style) as VersionRow[];
    return rows.map(rowToVersion);
  }

  async findVersionBySha(style: string, sha256: string): Promise<StyleVersion | null> {
    const row = this.db
      .prepare(`SELECT ${VERSION_COLUMNS} FROM library_versions WHERE style = ? AND sha256 = ?`)
      .get(style, sha256) as VersionRow | undefined;
    return row ? rowToVersion(row) : null;
  }

  async insertVersion(input: NewStyleVersion): Promise<StyleVersion> {
    const at = this.timestamp();
    const insert = this.db.transaction(() => {
      const last = this.db
        .prepare('SELECT MAX(version) AS version FROM library_versions WHERE style = ?')
        .get(input.style) as { version: number | null };
      const version: StyleVersion = {
        ...input,
        version: (last.version ?? 0) + 1,
        status: 'draft',
        created_at: at,
        status_changed_at: at,
      };
      this.db
        .prepare(
          `INSERT INTO library_versions (${VERSION_COLUMNS}) VALUES (${VERSION_COLUMNS.replace(/(\w+)/g, '@$1')})`,
        )
        .run(versionToRow(version));
      return version;
    });
    return insert.immediate();
  }

  async setStatuses(style: string, changes: readonly { version: number; status: VersionStatus }[]): Promise<void> {
    const at = this.timestamp();
    const update = this.db.prepare(
      'UPDATE library_versions SET status = ?, status_changed_at = ? WHERE style = ? AND version = ?',
    );
    // Demotions first: the one-promoted index is checked per statement.
    const ordered = [...changes].sort((a, b) => Number(a.status === 'promoted') - Number(b.status === 'promoted'));
    this.db
      .transaction(() => {
        for (const change of ordered) update.run(change.status, at, style, change.version);
      })
      .immediate();
  }

  async updateVersion(style: string, version: number, fields: EditableVersionFields): Promise<void> {
    const values = versionColumnValues(fields);
    const columns = Object.keys(values);
    if (columns.length === 0) return;
    const sets = columns.map((column) => `${column} = @${column}`).join(', ');
    this.db
      .prepare(`UPDATE library_versions SET ${sets} WHERE style = @style_key AND version = @version_key`)
      .run({ ...values, style_key: style, version_key: version });
  }

  async listRegions(): Promise<RegionMapping[]> {
    const rows = this.db.prepare(`SELECT ${REGION_COLUMNS} FROM library_regions ORDER BY id`).all() as RegionRow[];
    return rows.map(rowToRegion);
  }

  async upsertRegion(mapping: NewRegionMapping): Promise<RegionMapping> {
    const row = {
      level: mapping.level,
      place: mapping.place,
      place_key: placeKey(mapping.place),
      style: mapping.style,
      version: mapping.version,
      starts_at: mapping.from,
      ends_at: mapping.until,
      created_at: this.timestamp(),
    };
    const saved = this.db
      .prepare(
        `INSERT INTO library_regions (level, place, place_key, style, version, starts_at, ends_at, created_at)
         VALUES (@level, @place, @place_key, @style, @version, @starts_at, @ends_at, @created_at)
         ON CONFLICT (level, place_key, IFNULL(starts_at, ''), IFNULL(ends_at, ''))
         DO UPDATE SET place = excluded.place, style = excluded.style, version = excluded.version,
                       created_at = excluded.created_at
         RETURNING ${REGION_COLUMNS}`,
      )
      .get(row) as RegionRow;
    return rowToRegion(saved);
  }

  async deleteRegion(id: number): Promise<boolean> {
    return this.db.prepare('DELETE FROM library_regions WHERE id = ?').run(id).changes > 0;
  }

  async insertContinuation(input: Omit<Continuation, 'state' | 'version' | 'created_at'>): Promise<Continuation> {
    const continuation: Continuation = { ...input, state: 'pending', version: null, created_at: this.timestamp() };
    this.db
      .prepare(
        `INSERT INTO library_continuations (job_id, style, parent_version, state, version, created_at)
         VALUES (@job_id, @style, @parent_version, @state, @version, @created_at)`,
      )
      .run(continuation);
    return continuation;
  }

  async listContinuations(state?: Continuation['state']): Promise<Continuation[]> {
    return this.db
      .prepare(
        `SELECT job_id, style, parent_version, state, version, created_at FROM library_continuations
         WHERE (@state IS NULL OR state = @state) ORDER BY created_at, job_id`,
      )
      .all({ state: state ?? null }) as Continuation[];
  }

  async settleContinuation(job_id: string, state: 'added' | 'ended', version: number | null): Promise<void> {
    this.db
      .prepare("UPDATE library_continuations SET state = ?, version = ? WHERE job_id = ? AND state = 'pending'")
      .run(state, version, job_id);
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private timestamp(): string {
    return this.now().toISOString();
  }
}

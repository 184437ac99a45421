// What only the SQLite backend promises: the file, its pragmas and its migrations (job behaviour: job-store.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteStore } from './sqlite.js';
import { migrate, SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { StoreError } from './store-error.js';

let dir: string;
let file: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-sqlite-'));
  file = join(dir, 'studio.db');
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A plain connection, as a second process or a curious user with the sqlite3 shell would open the file. */
function openRaw(path = file): BetterSqlite3.Database {
  return new BetterSqlite3(path);
}

describe('openSqliteStore', () => {
  it('creates the missing folders and puts the file in WAL mode', async () => {
    const nested = join(dir, 'workspace', '.lora-scripts', 'studio.db');
    const store = openSqliteStore(nested);
    await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
    const raw = openRaw(nested);
    try {
      expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(raw.prepare('SELECT id FROM jobs').all()).toEqual([{ id: 'j' }]);
    } finally {
      raw.close();
      await store.close();
    }
  });

  it('stores JSON fields as TEXT', async () => {
    const store = openSqliteStore(file);
    await store.createJob({ id: 'j', kind: 'generate', device: 'cpu', config: { prompt: 'ink <lora:style:0.7>' } });
    await store.close();
    const raw = openRaw();
    try {
      const row = raw.prepare('SELECT typeof(config) AS type, config, outputs FROM jobs').get();
      expect(row).toEqual({ type: 'text', config: '{"prompt":"ink <lora:style:0.7>"}', outputs: '[]' });
    } finally {
      raw.close();
    }
  });

  it('refuses a file migrated by a newer lora-scripts, and leaves it alone', async () => {
    await openSqliteStore(file).close();
    const raw = openRaw();
    raw.prepare("INSERT INTO schema_version (version, name) VALUES (99, 'from the future')").run();
    raw.close();

    let error: unknown;
    try {
      openSqliteStore(file);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('store_too_new');
    expect((error as StoreError).line).toBe(
      `${file}: the store is at schema version 99, this lora-scripts knows up to ${SQLITE_MIGRATIONS.at(-1)?.version}`,
    );
    const after = openRaw();
    try {
      expect(after.prepare('SELECT version FROM schema_version ORDER BY version').all()).toEqual([
        ...SQLITE_MIGRATIONS.map(({ version }) => ({ version })),
        { version: 99 },
      ]);
    } finally {
      after.close();
    }
  });
});

describe('migrate', () => {
  it('applies every migration once; a second run is a no-op', () => {
    const raw = openRaw();
    try {
      expect(migrate(raw)).toEqual(SQLITE_MIGRATIONS.map((migration) => migration.version));
      const schemaAfterFirst = raw.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all();
      expect(migrate(raw)).toEqual([]);
      expect(raw.prepare('SELECT type, name, sql FROM sqlite_master ORDER BY name').all()).toEqual(schemaAfterFirst);
      expect(raw.prepare('SELECT version FROM schema_version').all()).toEqual(
        SQLITE_MIGRATIONS.map(({ version }) => ({ version })),
      );
    } finally {
      raw.close();
    }
  });

  it('applies only the migrations newer than the file, in one transaction', () => {
    const raw = openRaw();
    try {
      migrate(raw);
      const latest = SQLITE_MIGRATIONS.at(-1)!.version;
      const next = [
        ...SQLITE_MIGRATIONS,
        { version: latest + 1, name: 'job tags', sql: 'ALTER TABLE jobs ADD COLUMN tags TEXT' },
        { version: latest + 2, name: 'broken', sql: 'ALTER TABLE no_such_table ADD COLUMN x TEXT' },
      ];
      expect(() => migrate(raw, next)).toThrow(/no_such_table/);
      // the first new version was rolled back with the failing one after it
      expect(raw.prepare('SELECT MAX(version) AS version FROM schema_version').get()).toEqual({ version: latest });
      const columns = raw.prepare('SELECT name FROM pragma_table_info(?)').all('jobs') as { name: string }[];
      expect(columns.map((column) => column.name)).not.toContain('tags');
      expect(migrate(raw, next.slice(0, -1))).toEqual([latest + 1]);
      expect(migrate(raw, next.slice(0, -1))).toEqual([]);
    } finally {
      raw.close();
    }
  });

  it('keeps the data when a store is opened again on a migrated file', async () => {
    const first = openSqliteStore(file);
    await first.createJob({ id: 'kept', kind: 'train', device: 'cpu', config: {} });
    await first.close();
    const second = openSqliteStore(file);
    try {
      expect((await second.getJob('kept'))?.status).toBe('queued');
    } finally {
      await second.close();
    }
  });
});

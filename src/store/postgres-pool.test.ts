// What the PostgreSQL pool promises: one migrated pool per URL, migrations applied once even when two servers start
// at once, a newer schema refused, and transactions that commit or roll back whole.
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type PostgresServer, startPostgresServer } from '../testing/postgres-server.js';
import { POSTGRES_MIGRATIONS } from './postgres-migrations.js';
import { closePostgresPools, connectPostgres, openPostgresPool, withTransaction } from './postgres-pool.js';
import { StoreError } from './store-error.js';

let server: PostgresServer;
const ownPools: pg.Pool[] = [];

beforeAll(async () => {
  server = await startPostgresServer();
}, 120_000);

afterEach(async () => {
  await closePostgresPools();
  await Promise.all(ownPools.splice(0).map((pool) => pool.end()));
});

afterAll(async () => {
  await server?.stop();
});

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

const LATEST = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0;

describe('openPostgresPool', () => {
  it('migrates a new database to the latest version and shares one pool per URL', async () => {
    const url = await server.createDatabase();
    const [first, second] = await Promise.all([openPostgresPool(url), openPostgresPool(url)]);
    expect(second).toBe(first);
    expect(await openPostgresPool(url)).toBe(first);
    const versions = await query<{ version: number }>(url, 'SELECT version FROM schema_version ORDER BY version');
    expect(versions.map((row) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((migration) => migration.version));
    expect(versions.at(-1)?.version).toBe(LATEST);
    const tables = await query<{ name: string }>(
      url,
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY name",
    );
    expect(tables.map((row) => row.name)).toEqual(expect.arrayContaining(['job_logs', 'job_updates', 'jobs']));
  });

  it('gives a new pool after closePostgresPools', async () => {
    const url = await server.createDatabase();
    const first = await openPostgresPool(url);
    await closePostgresPools();
    const second = await openPostgresPool(url);
    expect(second).not.toBe(first);
    expect((await second.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('applies each migration once when several servers open one database at the same moment', async () => {
    const url = await server.createDatabase();
    const pools = await Promise.all(Array.from({ length: 4 }, () => connectPostgres(url)));
    ownPools.push(...pools);
    const versions = await query<{ version: number }>(url, 'SELECT version FROM schema_version ORDER BY version');
    expect(versions.map((row) => row.version)).toEqual(POSTGRES_MIGRATIONS.map((migration) => migration.version));
  });

  it('refuses a database migrated by a newer lora-scripts, naming it without its password, and leaves it alone', async () => {
    const url = await server.createDatabase();
    ownPools.push(await connectPostgres(url));
    await query(url, "INSERT INTO schema_version (version, name) VALUES (99, 'from the future')");
    const withPassword = url.replace('//postgres@', '//postgres:secret@');
    const error = await openPostgresPool(withPassword).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StoreError);
    expect((error as StoreError).code).toBe('store_too_new');
    expect((error as StoreError).line).toContain(`schema version 99, this lora-scripts knows up to ${LATEST}`);
    expect((error as StoreError).culprit).toBe(withPassword.replace(':secret@', ':***@'));
    const versions = await query<{ version: number }>(url, 'SELECT version FROM schema_version ORDER BY version');
    expect(versions.at(-1)?.version).toBe(99);
    expect(versions).toHaveLength(POSTGRES_MIGRATIONS.length + 1);

    // a failed open is not remembered: once the database is fit again, the next open succeeds
    await query(url, 'DELETE FROM schema_version WHERE version = 99');
    expect((await (await openPostgresPool(withPassword)).query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });
});

describe('an unreachable PostgreSQL', () => {
  it('is a database_unreachable error naming --db and the URL without its password', async () => {
    const error = await openPostgresPool('postgres://studio:secret@127.0.0.1:1/studio').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error).toMatchObject({ code: 'database_unreachable', culprit: '--db' });
    expect((error as Error).message).toContain('postgres://studio:***@127.0.0.1:1/studio');
    expect((error as Error).message).not.toContain('secret');
  });
});

describe('withTransaction', () => {
  it('commits what the work wrote, or nothing of it when the work throws', async () => {
    const url = await server.createDatabase();
    const pool = await openPostgresPool(url);
    await pool.query('CREATE TABLE notes (text TEXT NOT NULL)');
    await withTransaction(pool, async (client) => {
      await client.query("INSERT INTO notes VALUES ('kept')");
    });
    const failure = withTransaction(pool, async (client) => {
      await client.query("INSERT INTO notes VALUES ('dropped')");
      throw new Error('changed my mind');
    });
    await expect(failure).rejects.toThrow('changed my mind');
    expect((await pool.query('SELECT text FROM notes')).rows).toEqual([{ text: 'kept' }]);
    // every client went back to the pool
    expect(pool.idleCount).toBe(pool.totalCount);
  });
});

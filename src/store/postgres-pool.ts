// One connection pool per PostgreSQL URL in the process, migrated once on first use; every area's PostgreSQL store
// (jobs, library, experiments) queries through it, and `closePostgresPools()` ends them when the server stops.
import pg from 'pg';
import { StoreError } from './store-error.js';
import { migratePostgres } from './postgres-migrations.js';

const pools = new Map<string, Promise<pg.Pool>>();

/**
 * The process's pool for `url`, migrated to the latest schema. The first call connects and migrates; later calls
 * (and calls made while the first is still migrating) get the same pool.
 * @example const pool = await openPostgresPool('postgres://studio@db:5432/studio');
 */
export function openPostgresPool(url: string): Promise<pg.Pool> {
  let opening = pools.get(url);
  if (!opening) {
    opening = connectPostgres(url);
    pools.set(url, opening);
    // a failed open is not kept: the next caller tries again (the database may be up by then)
    const failed = opening;
    failed.catch(() => {
      if (pools.get(url) === failed) pools.delete(url);
    });
  }
  return opening;
}

/** Ends every pool `openPostgresPool` made; the next open connects anew. */
export async function closePostgresPools(): Promise<void> {
  const opened = [...pools.values()];
  pools.clear();
  await Promise.all(opened.map(async (opening) => (await opening.catch(() => null))?.end()));
}

/**
 * A new pool of its own (not shared), migrated: what a second server on the same database has. Tests use it to play
 * two servers in one process; the caller ends it.
 */
export async function connectPostgres(url: string): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url });
  // An idle connection that the server drops (restart, idle timeout) is removed from the pool, which connects again
  // on the next query; without a listener the 'error' event would end the process.
  pool.on('error', () => undefined);
  try {
    const client = await pool.connect().catch((error: unknown) => {
      throw unreachable(url, error);
    });
    try {
      await migratePostgres(client, redactPostgresUrl(url));
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end();
    throw error;
  }
  return pool;
}

/**
 * Runs `work` in one transaction on one pooled client: committed when it resolves, rolled back when it throws, the
 * client released either way.
 * @example await withTransaction(pool, (client) => client.query('UPDATE styles SET … WHERE id = $1', [id]));
 */
export async function withTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  // a connection whose ROLLBACK failed is in an unknown state: it is thrown away rather than given back to the pool
  let broken = false;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {
      broken = true;
    });
    throw error;
  } finally {
    client.release(broken);
  }
}

/** The URL without its password, for log lines and error messages. */
/** A server that does not answer (or refuses us) is a setting to fix, named as such, not an internal error. */
function unreachable(url: string, error: unknown): StoreError {
  const reason = error instanceof Error ? error.message : String(error);
  return new StoreError(`cannot connect to PostgreSQL at ${redactPostgresUrl(url)} (${reason})`, {
    code: 'database_unreachable',
    culprit: '--db',
    hint: 'start PostgreSQL there, check the user, password and database name in the URL, or leave `--db` out',
    cause: error,
  });
}

export function redactPostgresUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, '//$1:***@');
}

// A real PostgreSQL server for tests: Debian's `postgresql` binaries on a temp data folder and a free port, with
// fsync off (a test database is thrown away). PostgreSQL refuses to run as root, so as root it runs as `postgres`.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './free-port.js';
import { waitFor } from './serve-process.js';

export interface PostgresServer {
  /** The server's admin database: `postgres://postgres@127.0.0.1:PORT/postgres`. */
  url: string;
  /** A new, empty database on the server; its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const PG_ROOT = '/usr/lib/postgresql';

/** Whether Debian's PostgreSQL server is installed (`.ci/run` installs it). */
export function hasPostgres(): boolean {
  return postgresBinDir() !== null;
}

/**
 * @example const server = await startPostgresServer(); const url = await server.createDatabase(); … await server.stop();
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error(`no PostgreSQL under ${PG_ROOT}: apt-get install postgresql`);
  const dir = mkdtempSync(join(tmpdir(), 'lora-pg-'));
  const data = join(dir, 'data');
  const asUser = runAsPostgres(dir);
  execFileSync(
    ...asUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8']),
    {
      stdio: 'ignore',
    },
  );
  const port = await freePort();
  const settings = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'listen_addresses=127.0.0.1'];
  const [command, args] = asUser(join(bin, 'postgres'), [
    '-D',
    data,
    '-p',
    String(port),
    '-k',
    dir,
    ...settings.flatMap((setting) => ['-c', setting]),
  ]);
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  try {
    await waitFor(() => canConnect(url), { what: 'PostgreSQL to accept connections', timeoutMs: 60_000, pollMs: 100 });
  } catch (error) {
    child.kill('SIGKILL');
    if (error instanceof Error) error.message += `\n${stderr.slice(-2000)}`;
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let databases = 0;
  return {
    url,
    async createDatabase() {
      const name = `test_${process.pid}_${++databases}`;
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url.replace(/\/postgres$/, `/${name}`);
    },
    async stop() {
      // SIGINT: PostgreSQL's "fast" shutdown (ends sessions, no checkpoint wait worth speaking of with fsync off).
      const exited = new Promise<void>((done) => child.once('exit', () => done()));
      if (child.exitCode === null) child.kill('SIGINT');
      await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function postgresBinDir(): string | null {
  if (!existsSync(PG_ROOT)) return null;
  const versions = readdirSync(PG_ROOT)
    .filter((name) => existsSync(join(PG_ROOT, name, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(PG_ROOT, versions[0], 'bin') : null;
}

/** A command line that runs as `postgres` when we are root (the folder is handed to that user), else as we are. */
function runAsPostgres(dir: string): (command: string, args: string[]) => [string, string[]] {
  if (process.getuid?.() !== 0) return (command, args) => [command, args];
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  chownSync(dir, uid, gid);
  chmodSync(dir, 0o700);
  return (command, args) => ['runuser', ['-u', 'postgres', '--', command, ...args]];
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    await client.end().catch(() => {});
    return false;
  }
}

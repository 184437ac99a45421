// The backends a store suite runs over (kysely's DIALECTS pattern): each gives a fresh database that `open` may open
// again (a reopened store, a second server on the same data).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closePostgresPools } from '../store/postgres-pool.js';
import { type PostgresServer, startPostgresServer } from './postgres-server.js';

export interface StoreFixture<S> {
  open(): Promise<S>;
  cleanup(): Promise<void>;
}

export interface StoreBackend<S> {
  name: string;
  create(): Promise<StoreFixture<S>>;
}

/** A clock that ticks one second per reading, from 2026-12-06 10:00:00 UTC, so timestamps are distinct and known. */
export function tickingClock(): () => Date {
  let seconds = 0;
  return () => new Date(Date.UTC(2026, 11, 6, 10, 0, seconds++));
}

/** A SQLite file in a temp folder, opened by `openStore(file, clock)`; one clock per database. */
export function sqliteBackend<S>(openStore: (file: string, now: () => Date) => S): StoreBackend<S> {
  return {
    name: 'sqlite',
    async create() {
      const dir = mkdtempSync(join(tmpdir(), 'lora-store-'));
      const now = tickingClock();
      return {
        open: async () => openStore(join(dir, 'studio.db'), now),
        cleanup: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  };
}

/**
 * A fresh database on a real PostgreSQL server, opened by `openStore(url, clock)`. The server starts with the first
 * `create()` of the test file (about 10 s) and serves every test in it; the file stops it with `stop()` in afterAll.
 * `cleanup()` ends the process's pools, so each test's database has its own.
 * @example const postgres = postgresBackend(openPostgresStore); afterAll(() => postgres.stop());
 */
export function postgresBackend<S>(
  openStore: (url: string, now: () => Date) => S | Promise<S>,
): StoreBackend<S> & { stop(): Promise<void> } {
  let server: Promise<PostgresServer> | undefined;
  return {
    name: 'postgres',
    async create() {
      server ??= startPostgresServer();
      const url = await (await server).createDatabase();
      const now = tickingClock();
      return {
        open: async () => openStore(url, now),
        cleanup: closePostgresPools,
      };
    },
    async stop() {
      const started = server;
      server = undefined;
      await closePostgresPools();
      await (await started?.catch(() => undefined))?.stop();
    },
  };
}

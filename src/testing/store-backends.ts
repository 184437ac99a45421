// The backends a store suite runs over (kysely's DIALECTS pattern): each gives a fresh database that `open` may open
// again (a reopened store, a second server on the same data). The PostgreSQL backend adds itself here.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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

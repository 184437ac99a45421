// One suite for every ExperimentStore backend (as src/store/job-store.test.ts): the same assertions against SQLite and
// a real PostgreSQL server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresPool, openSqliteDatabase } from '../store/index.js';
import { postgresBackend, type StoreBackend, type StoreFixture, sqliteBackend } from '../testing/store-backends.js';
import type { ExperimentEvent, NewExperiment } from './model.js';
import { postgresExperimentStore } from './postgres-store.js';
import { FIRST_CLICK_SQL, openSqliteExperimentStore } from './sqlite-store.js';
import { assignArm, ExperimentError, type ExperimentStore } from './store.js';

const postgres = postgresBackend(async (url, now) => postgresExperimentStore(await openPostgresPool(url), { now }));
const BACKENDS: StoreBackend<ExperimentStore>[] = [
  sqliteBackend((file, now) => openSqliteExperimentStore(file, { now })),
  postgres,
];

afterAll(() => postgres.stop(), 30_000);

const COVER_TEST: NewExperiment = {
  id: 'jiangnan-cover',
  arms: [
    { name: 'generic', weight: 1 },
    { name: 'regional', weight: 1, style: 'jiangnan_style', strength: 0.7 },
  ],
  baseline_ctr: 0.05,
  min_detectable_lift: 0.23,
};

const exposure = (id: string, user: string, at = '2026-12-01T08:00:00Z', extra: Partial<ExperimentEvent> = {}) =>
  ({ type: 'exposure', event_id: id, user_id: user, at, ...extra }) as ExperimentEvent;
const click = (id: string, user: string, at = '2026-12-01T09:00:00Z') =>
  ({ type: 'click', event_id: id, user_id: user, at }) as ExperimentEvent;

for (const backend of BACKENDS) {
  describe(`ExperimentStore on ${backend.name}`, () => {
    let fixture: StoreFixture<ExperimentStore>;
    let store: ExperimentStore;
    const opened: ExperimentStore[] = [];

    beforeEach(async () => {
      fixture = await backend.create();
      store = await fixture.open();
      opened.push(store);
    });

    afterEach(async () => {
      for (const each of opened.splice(0)) await each.close().catch(() => undefined);
      await fixture.cleanup();
    });

    it('creates an experiment with its defaults and plan, and reads it back (also from a second connection)', async () => {
      const created = await store.createExperiment(COVER_TEST);
      expect(created).toEqual({
        id: 'jiangnan-cover',
        name: 'jiangnan-cover',
        salt: 'jiangnan-cover',
        arms: COVER_TEST.arms,
        control: 'generic',
        alpha: 0.05,
        power: 0.8,
        baseline_ctr: 0.05,
        min_detectable_lift: 0.23,
        planned_users_per_arm: 6248,
        created_at: '2026-12-06T10:00:00.000Z',
      });
      const second = await fixture.open();
      opened.push(second);
      expect(await second.getExperiment('jiangnan-cover')).toEqual(created);
      expect((await second.listExperiments()).map((each) => each.id)).toEqual(['jiangnan-cover']);
      expect(await store.getExperiment('nothing')).toBeNull();
    });

    it('refuses a taken id and an invalid experiment with the field at fault', async () => {
      await store.createExperiment(COVER_TEST);
      await expect(store.createExperiment(COVER_TEST)).rejects.toMatchObject({ code: 'experiment_exists' });
      const bad = { ...COVER_TEST, id: 'other', control: 'nope' };
      await expect(store.createExperiment(bad)).rejects.toMatchObject({
        code: 'invalid_experiment',
        culprit: 'control',
      });
    });

    it('counts users and clicking users per day, arm and segment', async () => {
      await store.createExperiment(COVER_TEST);
      const result = await store.ingestEvents('jiangnan-cover', [
        exposure('e1', 'u1', '2026-12-01T08:00:00Z', { arm: 'generic', segment: 'jiangsu' }),
        exposure('e2', 'u2', '2026-12-01T08:00:00Z', { arm: 'regional', segment: 'jiangsu' }),
        exposure('e3', 'u2', '2026-12-02T08:00:00Z', { arm: 'regional', segment: 'jiangsu' }),
        click('c1', 'u2', '2026-12-01T09:00:00Z'),
        click('c2', 'u2', '2026-12-02T09:00:00Z'),
        exposure('e4', 'u3', '2026-12-02T08:00:00Z', { arm: 'regional', segment: 'jiangsu' }),
        click('c3', 'u3', '2026-12-03T09:00:00Z'),
        click('c4', 'u-never-exposed', '2026-12-03T09:00:00Z'),
      ]);
      expect(result).toEqual({ accepted: 8, duplicates: 0 });
      expect(await store.dailyCounts('jiangnan-cover')).toEqual([
        { day: '2026-12-01', segment: 'jiangsu', arm: 'generic', users: 1, clicks: 0 },
        { day: '2026-12-01', segment: 'jiangsu', arm: 'regional', users: 1, clicks: 1 },
        { day: '2026-12-02', segment: 'jiangsu', arm: 'regional', users: 1, clicks: 0 },
        { day: '2026-12-03', segment: 'jiangsu', arm: 'regional', users: 0, clicks: 1 },
      ]);
    });

    it('is idempotent by event id: the same batch twice counts once', async () => {
      await store.createExperiment(COVER_TEST);
      const batch = [exposure('e1', 'u1'), exposure('e2', 'u2'), click('c1', 'u1'), click('c2', 'u1')];
      expect(await store.ingestEvents('jiangnan-cover', batch)).toEqual({ accepted: 4, duplicates: 0 });
      const before = await store.dailyCounts('jiangnan-cover');
      expect(await store.ingestEvents('jiangnan-cover', batch)).toEqual({ accepted: 0, duplicates: 4 });
      expect(await store.dailyCounts('jiangnan-cover')).toEqual(before);
      expect(before.reduce((sum, row) => sum + row.users, 0)).toBe(2);
      expect(before.reduce((sum, row) => sum + row.clicks, 0)).toBe(1);
    });

    it('assigns the arm by hash when the exposure names none, and counts a click that came first', async () => {
      const experiment = await store.createExperiment(COVER_TEST);
      await store.ingestEvents('jiangnan-cover', [click('c1', 'early')]);
      await store.ingestEvents('jiangnan-cover', [exposure('e1', 'early', '2026-12-01T07:00:00Z')]);
      const [row] = await store.dailyCounts('jiangnan-cover');
      expect(row).toEqual({
        day: '2026-12-01',
        segment: null,
        arm: assignArm(experiment, 'early').arm,
        users: 1,
        clicks: 1,
      });
    });

    it('refuses an exposure naming an unknown arm, storing nothing of the batch', async () => {
      await store.createExperiment(COVER_TEST);
      const batch = [exposure('e1', 'u1'), exposure('e2', 'u2', undefined, { arm: 'nope' })];
      const error = await store.ingestEvents('jiangnan-cover', batch).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(ExperimentError);
      expect(error).toMatchObject({ code: 'invalid_event', culprit: 'events.1.arm' });
      expect(await store.dailyCounts('jiangnan-cover')).toEqual([]);
    });

    it('imports counts that replace the same day and arm (a re-import changes nothing) and adds them to events', async () => {
      await store.createExperiment(COVER_TEST);
      const rows = [
        { day: '2026-12-01', segment: null, arm: 'generic', users: 100, clicks: 5 },
        { day: '2026-12-01', segment: null, arm: 'regional', users: 98, clicks: 9 },
      ];
      expect(await store.importCounts('jiangnan-cover', rows)).toEqual({ rows: 2 });
      await store.importCounts('jiangnan-cover', rows);
      await store.ingestEvents('jiangnan-cover', [exposure('e1', 'u1', undefined, { arm: 'generic' })]);
      expect(await store.dailyCounts('jiangnan-cover')).toEqual([
        { day: '2026-12-01', segment: null, arm: 'generic', users: 101, clicks: 5 },
        { day: '2026-12-01', segment: null, arm: 'regional', users: 98, clicks: 9 },
      ]);
    });

    it('counts an event id repeated inside one batch once, keeping its first occurrence', async () => {
      await store.createExperiment(COVER_TEST);
      const result = await store.ingestEvents('jiangnan-cover', [
        exposure('e1', 'u1', '2026-12-02T08:00:00Z', { arm: 'generic' }),
        exposure('e1', 'u1', '2026-12-01T08:00:00Z', { arm: 'regional' }),
        exposure('e2', 'u1', '2026-12-03T08:00:00Z', { arm: 'regional' }),
      ]);
      expect(result).toEqual({ accepted: 2, duplicates: 1 });
      expect(await store.dailyCounts('jiangnan-cover')).toEqual([
        { day: '2026-12-02', segment: null, arm: 'generic', users: 1, clicks: 0 },
      ]);
    });

    it('counts batches sent at the same time as if they came one after another', async () => {
      await store.createExperiment(COVER_TEST);
      const users = Array.from({ length: 20 }, (_, index) => `u${index}`);
      await Promise.all(
        users.flatMap((user) => [
          store.ingestEvents('jiangnan-cover', [exposure(`e-${user}`, user, undefined, { arm: 'generic' })]),
          store.ingestEvents('jiangnan-cover', [click(`c-${user}`, user)]),
        ]),
      );
      expect(await store.dailyCounts('jiangnan-cover')).toEqual([
        { day: '2026-12-01', segment: null, arm: 'generic', users: 20, clicks: 20 },
      ]);
    });

    it('lets the later of two count rows for the same day, segment and arm in one import win', async () => {
      await store.createExperiment(COVER_TEST);
      await store.importCounts('jiangnan-cover', [
        { day: '2026-12-01', segment: 'zj', arm: 'generic', users: 10, clicks: 1 },
        { day: '2026-12-01', segment: 'zj', arm: 'generic', users: 12, clicks: 2 },
        { day: '2026-12-01', segment: 'Zj', arm: 'generic', users: 5, clicks: 0 },
      ]);
      expect(await store.dailyCounts('jiangnan-cover')).toEqual([
        { day: '2026-12-01', segment: 'Zj', arm: 'generic', users: 5, clicks: 0 },
        { day: '2026-12-01', segment: 'zj', arm: 'generic', users: 12, clicks: 2 },
      ]);
    });

    it('answers experiment_not_found for an unknown experiment', async () => {
      await expect(store.ingestEvents('nothing', [exposure('e', 'u')])).rejects.toMatchObject({
        code: 'experiment_not_found',
      });
      await expect(store.dailyCounts('nothing')).rejects.toMatchObject({ code: 'experiment_not_found' });
    });
  });
}

describe('SQLite schema', () => {
  it("finds a user's earlier clicks through the covering index, not a scan of the experiment's events", () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-experiments-plan-'));
    const db = openSqliteDatabase(join(dir, 'studio.db'));
    try {
      const plan = db.prepare(`EXPLAIN QUERY PLAN ${FIRST_CLICK_SQL}`).all('x', 'u') as { detail: string }[];
      expect(plan.map((step) => step.detail).join('\n')).toContain('experiment_events_by_user');
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

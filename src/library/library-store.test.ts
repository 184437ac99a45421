// One suite for every LibraryStore backend: the same assertions against SQLite and a real PostgreSQL server.
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPostgresPool } from '../store/index.js';
import { postgresBackend, type StoreBackend, type StoreFixture, sqliteBackend } from '../testing/store-backends.js';
import { postgresLibraryStore } from './postgres-store.js';
import { openSqliteLibraryStore } from './sqlite-store.js';
import type { LibraryStore, NewStyleVersion } from './types.js';

const postgres = postgresBackend(async (url, now) => postgresLibraryStore(await openPostgresPool(url), now));
const BACKENDS: StoreBackend<LibraryStore>[] = [sqliteBackend(openSqliteLibraryStore), postgres];

afterAll(() => postgres.stop(), 30_000);

function newVersion(sha256: string, fields: Partial<NewStyleVersion> = {}): NewStyleVersion {
  return {
    style: 'jiangnan',
    sha256,
    lora_path: `library/${sha256}.safetensors`,
    source_name: 'jiangnan.safetensors',
    base_model: 'models/demo-sd1.safetensors',
    parent_version: null,
    lineage: { parent_lora: null, ancestors: [], datasets: [], steps: 2 },
    steps: 2,
    trigger_words: ['jnstyle'],
    strength: 0.7,
    sample_grid: ['grids/a.png'],
    notes: 'first',
    tags: ['water', 'town'],
    ...fields,
  };
}

for (const backend of BACKENDS) {
  describe(`LibraryStore (${backend.name})`, () => {
    let fixture: StoreFixture<LibraryStore>;
    let store: LibraryStore;

    beforeEach(async () => {
      fixture = await backend.create();
      store = await fixture.open();
      await store.upsertStyle('jiangnan', '{title}, <lora:{style}:{strength}>');
    });

    afterEach(async () => {
      await store.close();
      await fixture.cleanup();
    });

    it('keeps a style and its template, and keeps the template when none is given', async () => {
      await store.upsertStyle('jiangnan', undefined);
      expect(await store.getStyle('jiangnan')).toMatchObject({ prompt_template: '{title}, <lora:{style}:{strength}>' });
      await store.upsertStyle('jiangnan', null);
      expect((await store.getStyle('jiangnan'))?.prompt_template).toBeNull();
      expect(await store.getStyle('nope')).toBeNull();
    });

    it('numbers versions per style, as drafts, and reads every field back', async () => {
      const first = await store.insertVersion(newVersion('a'.repeat(64)));
      const second = await store.insertVersion(newVersion('b'.repeat(64), { parent_version: 1, tags: [] }));
      expect([first.version, second.version]).toEqual([1, 2]);
      expect(first.status).toBe('draft');
      const [read] = await store.listVersions('jiangnan');
      expect(read).toEqual(first);
      expect(await store.findVersionBySha('jiangnan', 'b'.repeat(64))).toEqual(second);
      expect(await store.findVersionBySha('jiangnan', 'c'.repeat(64))).toBeNull();
    });

    it('numbers versions added at the same time one after another, without a clash', async () => {
      const shas = ['a', 'b', 'c', 'd', 'e'].map((letter) => letter.repeat(64));
      const added = await Promise.all(shas.map((sha) => store.insertVersion(newVersion(sha))));
      expect(added.map((v) => v.version).sort()).toEqual([1, 2, 3, 4, 5]);
      expect((await store.listVersions('jiangnan')).map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
    });

    it('lists styles in byte order, whatever the database locale', async () => {
      for (const name of ['alpha', 'Zeta', 'Ärger', '_draft']) await store.upsertStyle(name, null);
      expect((await store.listStyles()).map((s) => s.name)).toEqual(['Zeta', '_draft', 'alpha', 'jiangnan', 'Ärger']);
    });

    it('refuses two versions of one style with the same bytes', async () => {
      await store.insertVersion(newVersion('a'.repeat(64)));
      await expect(store.insertVersion(newVersion('a'.repeat(64)))).rejects.toThrow(/unique constraint/i);
    });

    it('applies status changes together, and never keeps two promoted versions of a style', async () => {
      await store.insertVersion(newVersion('a'.repeat(64)));
      await store.insertVersion(newVersion('b'.repeat(64)));
      await store.setStatuses('jiangnan', [{ version: 1, status: 'promoted' }]);
      await store.setStatuses('jiangnan', [
        { version: 2, status: 'promoted' },
        { version: 1, status: 'retired' },
      ]);
      expect((await store.listVersions('jiangnan')).map((v) => v.status)).toEqual(['retired', 'promoted']);
      await expect(store.setStatuses('jiangnan', [{ version: 1, status: 'promoted' }])).rejects.toThrow(
        /unique constraint/i,
      );
    });

    it('edits only the fields given', async () => {
      await store.insertVersion(newVersion('a'.repeat(64)));
      await store.updateVersion('jiangnan', 1, { notes: 'rainy', strength: 0.5 });
      expect((await store.listVersions('jiangnan'))[0]).toMatchObject({
        notes: 'rainy',
        strength: 0.5,
        tags: ['water', 'town'],
      });
    });

    it('keeps one region rule per level, place and window: setting it again replaces it', async () => {
      const rule = {
        level: 'city' as const,
        place: 'Suzhou',
        style: 'jiangnan',
        version: null,
        from: null,
        until: null,
      };
      const first = await store.upsertRegion(rule);
      const again = await store.upsertRegion({ ...rule, place: 'suzhou', version: 1 });
      const windowed = await store.upsertRegion({ ...rule, from: '2026-07-01T00:00:00.000Z', until: null });
      expect(again.id).toBe(first.id);
      expect(windowed.id).not.toBe(first.id);
      expect(await store.listRegions()).toEqual([{ ...again, version: 1, place: 'suzhou' }, { ...windowed }]);
      expect(await store.deleteRegion(first.id)).toBe(true);
      expect(await store.deleteRegion(first.id)).toBe(false);
      expect((await store.listRegions()).map((r) => r.id)).toEqual([windowed.id]);
    });

    it('tracks a continuation from pending to settled, once', async () => {
      await store.insertContinuation({ job_id: 'job-1', style: 'jiangnan', parent_version: 1 });
      expect(await store.listContinuations('pending')).toEqual([
        {
          job_id: 'job-1',
          style: 'jiangnan',
          parent_version: 1,
          state: 'pending',
          version: null,
          created_at: expect.any(String),
        },
      ]);
      await store.settleContinuation('job-1', 'added', 2);
      await store.settleContinuation('job-1', 'ended', null);
      expect(await store.listContinuations('pending')).toEqual([]);
      expect((await store.listContinuations())[0]).toMatchObject({ state: 'added', version: 2 });
    });

    it('keeps everything across a reopen', async () => {
      await store.insertVersion(newVersion('a'.repeat(64)));
      await store.close();
      store = await fixture.open();
      expect((await store.listVersions('jiangnan')).map((v) => v.sha256)).toEqual(['a'.repeat(64)]);
    });
  });
}

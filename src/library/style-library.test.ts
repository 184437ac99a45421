// The library on real files and a real database (SQLite, and PostgreSQL with the same assertions): content-addressed
// copies, dedupe, lineage, lifecycle, place resolution with fallbacks and windows, `<lora:NAME>` names, and continued
// trainings folded in.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import { readSafetensors, writeSafetensorsAtomic } from '../lora/index.js';
import type { Job } from '../store/index.js';
import { LINEAGE_METADATA_KEY } from '../train/index.js';
import { postgresBackend, type StoreBackend, type StoreFixture, sqliteBackend } from '../testing/store-backends.js';
import { openLibrary, openSqliteLibrary, type StyleLibrary } from './index.js';

const FIXTURE = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'kohya-sd1-tiny.safetensors');
const SHA = /^[0-9a-f]{64}$/;

let workspace: string;
let library: StyleLibrary;

const postgres = postgresBackend((url, now) => openLibrary({ kind: 'postgres', url }, { workspace, now }));
const BACKENDS: StoreBackend<StyleLibrary>[] = [
  sqliteBackend((file, now) => openSqliteLibrary(file, { workspace, now })),
  postgres,
];

afterAll(() => postgres.stop(), 30_000);

/** A LoRA file in the workspace: the fixture with extra metadata, so each call can make different bytes. */
async function loraFile(name: string, metadata: Record<string, string> = {}): Promise<string> {
  const content = await readSafetensors(FIXTURE);
  const path = join(workspace, 'output', name);
  mkdirSync(join(workspace, 'output'), { recursive: true });
  await writeSafetensorsAtomic(path, { metadata: { ...content.metadata, ...metadata }, tensors: content.tensors });
  return path;
}

for (const backend of BACKENDS) {
  describe(`StyleLibrary on ${backend.name}`, () => {
    let fixture: StoreFixture<StyleLibrary>;

    beforeEach(async () => {
      workspace = mkdtempSync(join(tmpdir(), 'lora-library-'));
      fixture = await backend.create();
      library = await fixture.open();
    });

    afterEach(async () => {
      await library.close();
      await fixture.cleanup();
      rmSync(workspace, { recursive: true, force: true });
    });

    describe('addVersion', () => {
      it('copies the file into library/<sha256>.safetensors, as a draft; the original may change afterwards', async () => {
        const file = await loraFile('jiangnan.safetensors');
        const before = readFileSync(file);
        const { version, isNew } = await library.addVersion({
          style: 'jiangnan_style',
          file,
          strength: 0.7,
          tags: ['water'],
        });
        expect(isNew).toBe(true);
        expect(version).toMatchObject({
          style: 'jiangnan_style',
          version: 1,
          status: 'draft',
          strength: 0.7,
          source_name: 'jiangnan.safetensors',
        });
        expect(version.sha256).toMatch(SHA);
        expect(version.lora_path).toBe(`library/${version.sha256}.safetensors`);
        expect(readFileSync(join(workspace, version.lora_path)).equals(before)).toBe(true);
        writeFileSync(file, 'edited later');
        expect(readFileSync(join(workspace, version.lora_path)).equals(before)).toBe(true);
        // no temp file left behind
        expect(readdirSync(join(workspace, 'library'))).toEqual([`${version.sha256}.safetensors`]);
      });

      it('gives the same version for the same bytes, whatever the file is called', async () => {
        const file = await loraFile('a.safetensors');
        const copy = join(workspace, 'output', 'copy-of-a.safetensors');
        copyFileSync(file, copy);
        const first = await library.addVersion({ style: 'jiangnan_style', file });
        const second = await library.addVersion({ style: 'jiangnan_style', file: copy, notes: 'ignored' });
        expect(second).toEqual({ version: first.version, isNew: false });
        const other = await library.addVersion({
          style: 'jiangnan_style',
          file: await loraFile('b.safetensors', { x: '1' }),
        });
        expect(other.version.version).toBe(2);
        expect((await library.getStyle('jiangnan_style')).versions).toHaveLength(2);
      });

      it('reads the lineage train recorded, and finds the parent version by its sha256', async () => {
        const parent = await library.addVersion({
          style: 'jiangnan_style',
          file: await loraFile('parent.safetensors'),
        });
        const lineage = {
          parent_lora: {
            file: 'parent.safetensors',
            sha256: parent.version.sha256,
            output_name: 'parent',
            steps: 40,
            datasets: null,
          },
          ancestors: [],
          datasets: [{ name: 'rain', images: 8, sha256: 'd'.repeat(64) }],
          steps: 12,
        };
        const child = await loraFile('child.safetensors', {
          [LINEAGE_METADATA_KEY]: JSON.stringify(lineage),
          ss_steps: '12',
        });
        const { version } = await library.addVersion({ style: 'jiangnan_style', file: child });
        expect(version.lineage).toEqual(lineage);
        expect(version.parent_version).toBe(1);
        expect(version.steps).toBe(12);
        // read back from the store, not the object just made
        expect((await library.getVersion('jiangnan_style', 2)).lineage).toEqual(lineage);
      });

      it("takes the base model and trigger word from the run's record beside the file", async () => {
        const file = await loraFile('jiangnan.safetensors');
        const record = {
          config: { output_name: 'jiangnan', trigger_word: 'jnstyle' },
          base_model: { path: join(workspace, 'models', 'demo-sd1.safetensors') },
        };
        writeFileSync(join(workspace, 'output', 'lora_scripts.json'), JSON.stringify(record));
        const { version } = await library.addVersion({ style: 'jiangnan_style', file });
        expect(version.base_model).toBe('models/demo-sd1.safetensors');
        expect(version.trigger_words).toEqual(['jnstyle']);
      });

      it('refuses a file that is no safetensors, and a name that cannot go into <lora:NAME>', async () => {
        const bad = join(workspace, 'bad.safetensors');
        writeFileSync(bad, 'not a LoRA');
        await expect(library.addVersion({ style: 's', file: bad })).rejects.toMatchObject({
          code: 'library_file_unreadable',
        });
        await expect(library.addVersion({ style: 'a:b', file: await loraFile('x.safetensors') })).rejects.toMatchObject(
          {
            code: 'invalid_style_name',
          },
        );
        await expect(
          library.addVersion({ style: 's', file: await loraFile('y.safetensors'), prompt_template: '{nope}' }),
        ).rejects.toMatchObject({ code: 'invalid_prompt_template' });
      });
    });

    describe('lifecycle through the library', () => {
      it('promotes, replaces, retires and rolls back; the name resolves to the promoted version only', async () => {
        await library.addVersion({ style: 's', file: await loraFile('1.safetensors', { v: '1' }), strength: 0.6 });
        await library.addVersion({ style: 's', file: await loraFile('2.safetensors', { v: '2' }), strength: 0.8 });
        expect(await library.resolveLoraName('s')).toBeNull();
        await library.changeStatus('s', 1, 'promote');
        const v1 = await library.getVersion('s', 1);
        expect(await library.resolveLoraName('s')).toEqual({ path: v1.lora_path, strength: 0.6 });
        await library.changeStatus('s', 2, 'promote');
        expect((await library.getStyle('s')).versions.map((v) => v.status)).toEqual(['retired', 'promoted']);
        expect((await library.resolveLoraName('s'))?.strength).toBe(0.8);
        await library.changeStatus('s', 2, 'retire');
        expect(await library.resolveLoraName('s')).toBeNull();
        await expect(library.promoted('s')).rejects.toMatchObject({ code: 'no_promoted_version' });
        await library.changeStatus('s', 1, 'promote');
        expect((await library.promoted('s')).version).toBe(1);
        await expect(library.changeStatus('s', 9, 'promote')).rejects.toMatchObject({
          code: 'style_version_not_found',
        });
        await expect(library.changeStatus('nope', 1, 'promote')).rejects.toMatchObject({ code: 'style_not_found' });
      });
    });

    describe('resolvePlace', () => {
      beforeEach(async () => {
        for (const [style, strength] of [
          ['generic', 1],
          ['jiangnan', 0.7],
          ['hotpot', 0.9],
        ] as const) {
          await library.addVersion({
            style,
            file: await loraFile(`${style}.safetensors`, { style }),
            strength,
            trigger_words: [style],
          });
          await library.changeStatus(style, 1, 'promote');
        }
        await library.setPromptTemplate('jiangnan', '{title}, water town, <lora:{style}:{strength}>');
        await library.setRegion({ level: 'default', style: 'generic' });
        await library.setRegion({ level: 'province', place: 'Zhejiang', style: 'jiangnan' });
        await library.setRegion({ level: 'region', place: 'East China', style: 'jiangnan' });
        await library.setRegion({ level: 'city', place: 'Chengdu', style: 'hotpot' });
      });

      const NOW = new Date('2026-07-10T12:00:00Z');

      it('falls back city → province → region → default, with everything covers need', async () => {
        const jiangnan = await library.getVersion('jiangnan', 1);
        expect(await library.resolvePlace({ city: 'Hangzhou', province: 'Zhejiang' }, NOW)).toEqual({
          style: 'jiangnan',
          version: 1,
          sha256: jiangnan.sha256,
          lora_path: jiangnan.lora_path,
          strength: 0.7,
          prompt_template: '{title}, water town, <lora:{style}:{strength}>',
          trigger_words: ['jiangnan'],
          base_model: null,
          matched: 'province',
        });
        expect((await library.resolvePlace({ city: 'Chengdu', province: 'Sichuan' }, NOW))?.matched).toBe('city');
        expect(await library.resolvePlace({ city: 'Shanghai', region: 'east china' }, NOW)).toMatchObject({
          style: 'jiangnan',
          matched: 'region',
        });
        expect(await library.resolvePlace({ city: 'Lhasa' }, NOW)).toMatchObject({
          style: 'generic',
          matched: 'default',
        });
      });

      it('lets an event version pinned with a window win during the window only', async () => {
        const rainy = await library.addVersion({
          style: 'jiangnan',
          file: await loraFile('rainy.safetensors', { rain: '1' }),
        });
        await library.setRegion({
          level: 'province',
          place: 'Zhejiang',
          style: 'jiangnan',
          version: rainy.version.version,
          from: '2026-07-01',
          until: '2026-07-15',
        });
        expect((await library.resolvePlace({ province: 'Zhejiang' }, NOW))?.version).toBe(2);
        expect((await library.resolvePlace({ province: 'Zhejiang' }, new Date('2026-07-15T00:00:00Z')))?.version).toBe(
          1,
        );
      });

      it('skips a rule whose style has nothing to use, and has no answer without a default', async () => {
        await library.changeStatus('hotpot', 1, 'retire');
        expect(await library.resolvePlace({ city: 'Chengdu' }, NOW)).toMatchObject({
          style: 'generic',
          matched: 'default',
        });
        const rules = await library.listRegions();
        await library.removeRegion(rules.find((r) => r.level === 'default')!.id);
        expect(await library.resolvePlace({ city: 'Chengdu' }, NOW)).toBeNull();
        await expect(library.removeRegion(999)).rejects.toMatchObject({ code: 'region_not_found' });
      });

      it('refuses a rule for a style or version the library does not have', async () => {
        await expect(library.setRegion({ level: 'city', place: 'X', style: 'nope' })).rejects.toMatchObject({
          code: 'style_not_found',
        });
        await expect(
          library.setRegion({ level: 'city', place: 'X', style: 'hotpot', version: 4 }),
        ).rejects.toMatchObject({
          code: 'style_version_not_found',
        });
      });
    });

    describe('reconcileContinuations', () => {
      function job(id: string, status: Job['status'], outputs: string[] = []): Job {
        return { id, status, outputs } as unknown as Job;
      }

      it("adds a done job's LoRA as the next draft with the continued version as parent, once", async () => {
        await library.addVersion({
          style: 's',
          file: await loraFile('p.safetensors'),
          strength: 0.6,
          trigger_words: ['t'],
          base_model: 'models/m.safetensors',
        });
        await library.recordContinuation('job-1', 's', 1);
        await library.recordContinuation('job-2', 's', 1);
        await library.recordContinuation('job-3', 's', 1);
        await loraFile('child.safetensors', { child: '1' });
        const jobs = new Map([
          ['job-1', job('job-1', 'running')],
          ['job-2', job('job-2', 'failed')],
        ]);
        const lookup = { getJob: async (id: string) => jobs.get(id) ?? null };
        expect(await library.reconcileContinuations(lookup)).toEqual([]);
        jobs.set(
          'job-1',
          job('job-1', 'done', ['output/child.safetensors', 'output/pytorch_lora_weights.safetensors']),
        );
        const [added] = await library.reconcileContinuations(lookup);
        expect(added).toMatchObject({
          version: 2,
          status: 'draft',
          parent_version: 1,
          strength: 0.6,
          trigger_words: ['t'],
          base_model: 'models/m.safetensors',
          source_name: 'child.safetensors',
        });
        expect(existsSync(join(workspace, added!.lora_path))).toBe(true);
        expect(await library.reconcileContinuations(lookup)).toEqual([]);
        const { continuations } = await library.getStyle('s');
        expect(continuations.map((c) => [c.job_id, c.state, c.version])).toEqual([
          ['job-1', 'added', 2],
          ['job-2', 'ended', null],
          ['job-3', 'ended', null],
        ]);
      });
    });
  });
}

import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { postgresBackend, type StoreBackend, type StoreFixture, sqliteBackend } from '../testing/store-backends.js';
import type { JobEvent } from './job-state.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import { StoreError } from './store-error.js';
import type { JobStore } from './types.js';

const postgres = postgresBackend((url, now) => openPostgresStore(url, { now }));
afterAll(() => postgres.stop());

const BACKENDS: StoreBackend<JobStore>[] = [sqliteBackend((file, now) => openSqliteStore(file, { now })), postgres];

const START: JobEvent = { type: 'start' };
const FINISH: JobEvent = { type: 'finish', outputs: ['out/style.safetensors'] };

for (const backend of BACKENDS) {
  describe(`JobStore on ${backend.name}`, () => {
    let fixture: StoreFixture<JobStore>;
    let opened: JobStore[];
    let store: JobStore;

    async function open(): Promise<JobStore> {
      const next = await fixture.open();
      opened.push(next);
      return next;
    }

    beforeEach(async () => {
      fixture = await backend.create();
      opened = [];
      store = await open();
    });

    afterEach(async () => {
      for (const each of opened) await each.close().catch(() => undefined);
      await fixture.cleanup();
    });

    describe('createJob and getJob', () => {
      it('creates a queued job with a new id and reads it back field for field', async () => {
        const config = { lora_rank: 16, captions: { prefix: '江南, ' }, seeds: [1, 2] };
        const job = await store.createJob({ kind: 'train', device: 'cuda:0', config });
        expect(job).toEqual({
          id: job.id,
          kind: 'train',
          status: 'queued',
          device: 'cuda:0',
          config,
          created_at: '2026-12-06T10:00:00.000Z',
          started_at: null,
          finished_at: null,
          progress: null,
          error: null,
          outputs: [],
          resume_from: null,
          attempts: 0,
        });
        expect(job.id).not.toBe('');
        expect(await store.getJob(job.id)).toEqual(job);
        const other = await store.createJob({ kind: 'train', device: 'cuda:0', config });
        expect(other.id).not.toBe(job.id);
      });

      it('returns null for an unknown id', async () => {
        expect(await store.getJob('nope')).toBeNull();
      });

      it('refuses a job with a bad field, naming the field', async () => {
        const error = await rejection(store.createJob({ kind: 'paint' as 'train', device: 'cpu', config: {} }));
        expect(error.code).toBe('invalid_job');
        expect(error.culprit).toBe('`kind`');
        expect((await rejection(store.createJob({ kind: 'train', device: '', config: {} }))).culprit).toBe('`device`');
      });

      it('refuses a second job with the same id', async () => {
        await store.createJob({ id: 'train:abc', kind: 'train', device: 'cpu', config: {} });
        const error = await rejection(store.createJob({ id: 'train:abc', kind: 'merge', device: 'cpu', config: {} }));
        expect(error.code).toBe('job_exists');
        expect(error.line).toBe('job `train:abc`: a job with this id already exists');
        expect((await store.getJob('train:abc'))?.kind).toBe('train');
      });
    });

    it('lists jobs newest first, filtered by status and kind, up to a limit', async () => {
      const a = await store.createJob({ id: 'a', kind: 'train', device: 'cpu', config: {} });
      const b = await store.createJob({ id: 'b', kind: 'generate', device: 'cpu', config: {} });
      const c = await store.createJob({ id: 'c', kind: 'train', device: 'cpu', config: {} });
      await store.applyEvent('a', START);
      const ids = (jobs: { id: string }[]) => jobs.map((job) => job.id);
      expect(ids(await store.listJobs())).toEqual([c.id, b.id, a.id]);
      expect(ids(await store.listJobs({ kind: 'train' }))).toEqual(['c', 'a']);
      expect(ids(await store.listJobs({ status: 'queued' }))).toEqual(['c', 'b']);
      expect(ids(await store.listJobs({ status: 'queued', kind: 'train' }))).toEqual(['c']);
      expect(ids(await store.listJobs({ limit: 2 }))).toEqual(['c', 'b']);
    });

    describe('applyEvent', () => {
      it('saves each move of a job through its life', async () => {
        await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
        await store.applyEvent('j', START);
        await store.applyEvent('j', { type: 'progress', progress: { step: 3, total: 6, loss: 0.2, lr: 1e-4 } });
        const done = await store.applyEvent('j', FINISH);
        expect(done).toMatchObject({
          status: 'done',
          started_at: '2026-12-06T10:00:01.000Z',
          finished_at: '2026-12-06T10:00:03.000Z',
          progress: { step: 3, total: 6, loss: 0.2, lr: 1e-4 },
          outputs: ['out/style.safetensors'],
          attempts: 1,
        });
        expect(await store.getJob('j')).toEqual(done);
      });

      it('keeps the stored job unchanged when the move is illegal', async () => {
        await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
        await store.applyEvent('j', START);
        const failed = await store.applyEvent('j', { type: 'fail', code: 'nan_loss', message: 'loss is NaN' });
        const error = await rejection(store.applyEvent('j', FINISH));
        expect(error.code).toBe('illegal_job_transition');
        expect(error.line).toBe('job `j`: cannot finish a job that is failed');
        expect(await store.getJob('j')).toEqual(failed);
        expect(failed.error).toEqual({ code: 'nan_loss', message: 'loss is NaN' });
      });

      it('names an unknown job', async () => {
        const error = await rejection(store.applyEvent('ghost', START));
        expect(error.code).toBe('job_not_found');
        expect(error.line).toBe('job `ghost`: no such job');
      });

      it('refuses to start a second job on a busy device', async () => {
        await store.createJob({ id: 'first', kind: 'train', device: 'cuda:0', config: {} });
        await store.createJob({ id: 'second', kind: 'generate', device: 'cuda:0', config: {} });
        await store.applyEvent('first', START);
        const error = await rejection(store.applyEvent('second', START));
        expect(error.code).toBe('device_busy');
        expect(error.line).toBe('job `second`: device `cuda:0` is already running a job');
        expect((await store.getJob('second'))?.status).toBe('queued');
      });
    });

    describe('claimNextQueued', () => {
      it('takes the oldest queued job for the device, one at a time, in FIFO order', async () => {
        for (const id of ['q1', 'q2', 'q3']) await store.createJob({ id, kind: 'train', device: 'cuda:0', config: {} });
        await store.createJob({ id: 'cpu1', kind: 'prepare', device: 'cpu', config: {} });

        const first = await store.claimNextQueued('cuda:0');
        expect(first).toMatchObject({ id: 'q1', status: 'running', attempts: 1 });
        expect(await store.getJob('q1')).toEqual(first);
        expect(await store.claimNextQueued('cuda:0')).toBeNull();
        expect((await store.getJob('q2'))?.status).toBe('queued');

        // another device is not held up by cuda:0
        expect((await store.claimNextQueued('cpu'))?.id).toBe('cpu1');

        await store.applyEvent('q1', FINISH);
        expect((await store.claimNextQueued('cuda:0'))?.id).toBe('q2');
        await store.applyEvent('q2', { type: 'cancel' });
        expect((await store.claimNextQueued('cuda:0'))?.id).toBe('q3');
        await store.applyEvent('q3', { type: 'fail', code: 'x', message: 'y' });
        expect(await store.claimNextQueued('cuda:0')).toBeNull();
      });

      it('returns null when nothing is queued for the device', async () => {
        await store.createJob({ id: 'other', kind: 'train', device: 'cuda:1', config: {} });
        expect(await store.claimNextQueued('cuda:0')).toBeNull();
        expect((await store.getJob('other'))?.status).toBe('queued');
      });

      it('gives a job to only one of two servers on the same data', async () => {
        const second = await open();
        await store.createJob({ id: 'a', kind: 'train', device: 'cuda:0', config: {} });
        await store.createJob({ id: 'b', kind: 'train', device: 'cuda:0', config: {} });
        const claims = await Promise.all([store.claimNextQueued('cuda:0'), second.claimNextQueued('cuda:0')]);
        expect(claims.filter((claim) => claim !== null).map((claim) => claim?.id)).toEqual(['a']);
        expect((await second.listJobs({ status: 'running' })).map((job) => job.id)).toEqual(['a']);
      });
    });

    it('marks the jobs of a crashed server interrupted when a new server starts, and resumes them', async () => {
      await store.createJob({ id: 'gpu', kind: 'train', device: 'cuda:0', config: {} });
      await store.createJob({ id: 'cpu', kind: 'auto-label', device: 'cpu', config: {} });
      await store.createJob({ id: 'waiting', kind: 'train', device: 'cuda:0', config: {} });
      await store.claimNextQueued('cuda:0');
      await store.claimNextQueued('cpu');
      // the first server is never closed: it crashed; a restarted one opens the same data
      const restarted = await open();

      const interrupted = await restarted.markRunningAsInterrupted();
      expect(interrupted.map((job) => [job.id, job.status])).toEqual([
        ['gpu', 'interrupted'],
        ['cpu', 'interrupted'],
      ]);
      expect(interrupted[0]?.finished_at).not.toBeNull();
      expect(await restarted.getJob('gpu')).toEqual(interrupted[0]);
      expect((await restarted.getJob('waiting'))?.status).toBe('queued');
      expect(await restarted.markRunningAsInterrupted()).toEqual([]);

      // the device is free again: the waiting job runs, then the interrupted one resumes behind it
      expect((await restarted.claimNextQueued('cuda:0'))?.id).toBe('waiting');
      await restarted.applyEvent('waiting', FINISH);
      await restarted.applyEvent('gpu', { type: 'resume', resume_from: 'out/checkpoints/step-200' });
      expect(await restarted.claimNextQueued('cuda:0')).toMatchObject({
        id: 'gpu',
        status: 'running',
        attempts: 2,
        finished_at: null,
        resume_from: 'out/checkpoints/step-200',
      });
    });

    it('keeps jobs and logs across close and reopen', async () => {
      await store.createJob({ id: 'j', kind: 'merge', device: 'cpu', config: { weights: [0.5, 0.5] } });
      await store.applyEvent('j', START);
      await store.applyEvent('j', { type: 'progress', progress: { step: 1, total: 2 } });
      await store.appendLog('j', ['loading base model', 'merging']);
      const before = await store.getJob('j');
      await store.close();

      const reopened = await open();
      expect(await reopened.getJob('j')).toEqual(before);
      expect(await reopened.readLog('j')).toEqual([
        { line_no: 0, text: 'loading base model' },
        { line_no: 1, text: 'merging' },
      ]);
      expect(await reopened.applyEvent('j', FINISH)).toMatchObject({ status: 'done', attempts: 1 });
    });

    describe('logs', () => {
      beforeEach(async () => {
        await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
        await store.createJob({ id: 'k', kind: 'train', device: 'cpu', config: {} });
      });

      it('keeps lines in order across appends, apart from other jobs', async () => {
        await store.appendLog('j', ['one', 'two']);
        await store.appendLog('k', ['other']);
        await store.appendLog('j', []);
        await store.appendLog('j', ['three', '', 'five  ']);
        const lines = await store.readLog('j');
        expect(lines.map((line) => line.text)).toEqual(['one', 'two', 'three', '', 'five  ']);
        expect(lines.map((line) => line.line_no)).toEqual([0, 1, 2, 3, 4]);
        expect(await store.readLog('k')).toEqual([{ line_no: 0, text: 'other' }]);
      });

      it('pages with fromLine and limit', async () => {
        await store.appendLog(
          'j',
          Array.from({ length: 7 }, (_, index) => `line ${index}`),
        );
        const pages: string[][] = [];
        let fromLine = 0;
        for (;;) {
          const page = await store.readLog('j', { fromLine, limit: 3 });
          if (page.length === 0) break;
          pages.push(page.map((line) => line.text));
          fromLine = page.at(-1)!.line_no + 1;
        }
        expect(pages).toEqual([['line 0', 'line 1', 'line 2'], ['line 3', 'line 4', 'line 5'], ['line 6']]);
        expect((await store.readLog('j', { fromLine: 5 })).map((line) => line.text)).toEqual(['line 5', 'line 6']);
        expect(await store.readLog('j', { fromLine: 7 })).toEqual([]);
      });

      it('names an unknown job', async () => {
        expect((await rejection(store.appendLog('ghost', ['x']))).code).toBe('job_not_found');
        expect((await rejection(store.readLog('ghost'))).code).toBe('job_not_found');
      });
    });

    describe('updates', () => {
      const progress = (step: number) => ({
        type: 'progress' as const,
        step,
        total_steps: 10,
        epoch: 1,
        loss: 0.1,
        loss_smoothed: 0.12,
        lr: 1e-4,
        step_ms: 200,
        eta_s: null,
      });
      const types = (updates: { type: string }[]) => updates.map((update) => update.type);

      it('numbers a job’s updates from 1 and writes a status update at every status change, whoever made it', async () => {
        await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
        await store.claimNextQueued('cpu');
        await store.appendUpdates('j', [progress(1), progress(2)]);
        await store.appendUpdates('j', [{ type: 'sample', step: 2, prompt: '江南, 雨', path: 'out/s.png' }]);
        await store.applyEvent('j', { type: 'progress', progress: { step: 2, total: 10 } });
        await store.applyEvent('j', FINISH);
        const updates = await store.readUpdates('j');
        expect(updates.map((update) => update.seq)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(types(updates)).toEqual(['status', 'status', 'progress', 'progress', 'sample', 'status']);
        expect(updates.filter((update) => update.type === 'status').map((update) => update.status)).toEqual([
          'queued',
          'running',
          'done',
        ]);
        expect(updates.at(-1)).toMatchObject({ type: 'status', status: 'done', outputs: ['out/style.safetensors'] });
        expect(updates[4]).toMatchObject({ type: 'sample', prompt: '江南, 雨', at: '2026-12-06T10:00:03.000Z' });
      });

      it('records the error of a failed job and an interruption by a new server', async () => {
        await store.createJob({ id: 'f', kind: 'train', device: 'cpu', config: {} });
        await store.claimNextQueued('cpu');
        await store.applyEvent('f', { type: 'fail', code: 'out_of_memory', message: 'CUDA out of memory' });
        expect((await store.readUpdates('f')).at(-1)).toMatchObject({
          status: 'failed',
          error: { code: 'out_of_memory', message: 'CUDA out of memory' },
        });
        await store.createJob({ id: 'i', kind: 'train', device: 'cpu', config: {} });
        await store.claimNextQueued('cpu');
        await (await open()).markRunningAsInterrupted();
        expect(types(await store.readUpdates('i', { after: 2 }))).toEqual(['status']);
        expect((await store.readUpdates('i')).at(-1)).toMatchObject({ status: 'interrupted' });
      });

      it('pages with after and limit, apart from other jobs', async () => {
        await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
        await store.createJob({ id: 'k', kind: 'train', device: 'cpu', config: {} });
        await store.appendUpdates('j', [1, 2, 3, 4, 5].map(progress));
        await store.appendUpdates('k', [{ type: 'log', lines: ['other'] }]);
        expect((await store.readUpdates('j', { after: 2, limit: 2 })).map((update) => update.seq)).toEqual([3, 4]);
        expect(await store.readUpdates('j', { after: 6 })).toEqual([]);
        expect(types(await store.readUpdates('k'))).toEqual(['status', 'log']);
      });

      it('refuses an update of an unknown type or shape, naming the field, and writes none of the batch', async () => {
        await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
        const bad = { ...progress(1), loss: 'high' } as unknown as ReturnType<typeof progress>;
        const error = await rejection(store.appendUpdates('j', [progress(1), bad]));
        expect(error.code).toBe('invalid_job_update');
        expect(error.culprit).toBe('`loss`');
        expect(types(await store.readUpdates('j'))).toEqual(['status']);
        expect((await rejection(store.appendUpdates('ghost', [progress(1)]))).code).toBe('job_not_found');
        expect((await rejection(store.readUpdates('ghost'))).code).toBe('job_not_found');
      });
    });
  });
}

async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError, got none');
}

// A job's updates over HTTP: the JSON page and the server-sent event stream, on a real SQLite store.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { createApp, type StudioApp } from '../app.js';
import { errorBodySchema } from '../schemas.js';
import { accessPolicy } from '../security/index.js';
import { jobUpdateSchema } from './job-events.js';

const HOST = '127.0.0.1:6008';
let dir: string;
let store: JobStore;
let app: StudioApp;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-events-'));
  store = openSqliteStore(join(dir, '.lora-scripts', 'studio.db'));
  app = createApp({ store, workspace: dir, policy: accessPolicy({ host: '127.0.0.1', port: 6008 }), version: '0' });
  await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function get(path: string, headers: Record<string, string> = {}) {
  return app.request(`http://${HOST}${path}`, { headers: { host: HOST, ...headers } });
}

const progress = (step: number) => ({
  type: 'progress' as const,
  step,
  total_steps: 3,
  epoch: 1,
  loss: 0.2 / step,
  loss_smoothed: 0.2,
  lr: 1e-4,
  step_ms: 120,
  eta_s: step === 1 ? null : (3 - step) * 0.12,
});

interface SseMessage {
  id: string;
  event: string;
  data: unknown;
}

/** Reads a whole event stream (it ends by itself after a final status) into its messages. */
async function readStream(response: Response): Promise<SseMessage[]> {
  const text = await response.text();
  return text
    .split('\n\n')
    .filter((block) => block.includes('data:'))
    .map((block) => {
      const field = (name: string) =>
        block
          .split('\n')
          .filter((line) => line.startsWith(`${name}: `))
          .map((line) => line.slice(name.length + 2))
          .join('\n');
      return { id: field('id'), event: field('event'), data: JSON.parse(field('data')) };
    });
}

describe('GET /api/jobs/{id}/events', () => {
  it('pages through the updates; each validates against the published JobUpdate schema', async () => {
    await store.claimNextQueued('cpu');
    await store.appendUpdates('j', [progress(1), progress(2)]);
    await store.appendUpdates('j', [{ type: 'sample', step: 2, prompt: '雨中江南', path: 'output/s/2.png' }]);
    const first = await get('/api/jobs/j/events');
    expect(first.status).toBe(200);
    const page = (await first.json()) as { events: unknown[]; next: number };
    expect(page.next).toBe(5);
    expect(page.events.map((event) => jobUpdateSchema.parse(event).type)).toEqual([
      'status',
      'status',
      'progress',
      'progress',
      'sample',
    ]);
    const rest = (await (await get('/api/jobs/j/events?after=4')).json()) as { events: { seq: number }[] };
    expect(rest.events.map((event) => event.seq)).toEqual([5]);
    const none = (await (await get('/api/jobs/j/events?after=5')).json()) as { events: unknown[]; next: number };
    expect(none).toEqual({ events: [], next: 5 });
  });

  it('answers an unknown job with 404 and a bad `after` with 400 naming it', async () => {
    const missing = await get('/api/jobs/ghost/events');
    expect(missing.status).toBe(404);
    expect(errorBodySchema.parse(await missing.json()).error.code).toBe('job_not_found');
    const bad = await get('/api/jobs/j/events?after=-1');
    expect(bad.status).toBe(400);
    expect(errorBodySchema.parse(await bad.json()).error.field).toBe('after');
  });
});

describe('GET /api/jobs/{id}/stream', () => {
  it('streams every update once, in order, as it is written, and ends after the final status', async () => {
    await store.claimNextQueued('cpu');
    await store.appendUpdates('j', [progress(1)]);
    const response = await get('/api/jobs/j/stream');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reading = readStream(response);
    await store.appendUpdates('j', [progress(2), progress(3)]);
    await store.appendUpdates('j', [{ type: 'checkpoint', step: 3, path: 'output/s/s.safetensors', is_final: true }]);
    await store.applyEvent('j', { type: 'finish', outputs: ['output/s/s.safetensors'] });
    const messages = await reading;
    expect(messages.map((message) => message.id)).toEqual(['1', '2', '3', '4', '5', '6', '7']);
    expect(messages.map((message) => message.event)).toEqual([
      'status',
      'status',
      'progress',
      'progress',
      'progress',
      'checkpoint',
      'status',
    ]);
    for (const message of messages) expect(jobUpdateSchema.parse(message.data).type).toBe(message.event);
    expect(messages.at(-1)?.data).toMatchObject({ status: 'done', outputs: ['output/s/s.safetensors'] });
  });

  it('goes on after Last-Event-ID when an EventSource reconnects, and after `after`', async () => {
    await store.claimNextQueued('cpu');
    await store.appendUpdates('j', [progress(1), progress(2)]);
    await store.applyEvent('j', { type: 'fail', code: 'out_of_memory', message: 'CUDA out of memory' });
    const resumed = await readStream(await get('/api/jobs/j/stream', { 'last-event-id': '3' }));
    expect(resumed.map((message) => message.id)).toEqual(['4', '5']);
    expect(resumed.at(-1)?.data).toMatchObject({ status: 'failed', error: { code: 'out_of_memory' } });
    const after = await readStream(await get('/api/jobs/j/stream?after=4'));
    expect(after.map((message) => message.id)).toEqual(['5']);
  });

  it('answers an unknown job with a JSON 404 rather than an empty stream', async () => {
    const response = await get('/api/jobs/ghost/stream');
    expect(response.status).toBe(404);
    expect(errorBodySchema.parse(await response.json()).error.code).toBe('job_not_found');
  });
});

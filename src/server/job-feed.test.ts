// The fan-out of job updates on a real SQLite store: order, no gaps, no repeats, whatever the watchers' places.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type JobStore, type JobUpdate, openSqliteStore } from '../store/index.js';
import { createJobFeeds } from './job-feed.js';

const WAIT_MS = 20_000;
let dir: string;
let store: JobStore;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-feed-'));
  store = openSqliteStore(join(dir, 'studio.db'));
  await store.createJob({ id: 'j', kind: 'train', device: 'cpu', config: {} });
});

afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const log = (text: string) => ({ type: 'log' as const, lines: [text] });

function collector() {
  const seen: JobUpdate[] = [];
  return {
    seen,
    push: (updates: JobUpdate[]) => seen.push(...updates),
    async until(count: number) {
      const deadline = Date.now() + WAIT_MS;
      while (seen.length < count) {
        if (Date.now() > deadline) throw new Error(`saw ${seen.length} updates, not ${count}, in ${WAIT_MS} ms`);
        await new Promise((done) => setTimeout(done, 5));
      }
    },
  };
}

describe('createJobFeeds', () => {
  it('gives every watcher each update once, in order, from its own place, as updates keep coming', async () => {
    const feeds = createJobFeeds(store, { pollMs: 10, pageSize: 3 });
    await store.appendUpdates('j', ['a', 'b', 'c', 'd'].map(log));
    const first = collector();
    const late = collector();
    const stopFirst = feeds.watch('j', 0, first.push);
    const stopLate = feeds.watch('j', 3, late.push);
    expect(feeds.watcherCount()).toBe(2);
    for (const text of ['e', 'f', 'g']) await store.appendUpdates('j', [log(text)]);
    // 1 status (queued) + 7 logs
    await first.until(8);
    await late.until(5);
    expect(first.seen.map((update) => update.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(late.seen.map((update) => update.seq)).toEqual([4, 5, 6, 7, 8]);
    const midway = collector();
    const stopMidway = feeds.watch('j', 0, midway.push);
    await midway.until(8);
    expect(midway.seen.map((update) => update.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const stop of [stopFirst, stopLate, stopMidway, stopMidway]) stop();
    expect(feeds.watcherCount()).toBe(0);
  });

  it('stops reading for a watcher that stopped watching', async () => {
    const feeds = createJobFeeds(store, { pollMs: 10 });
    const gone = collector();
    feeds.watch('j', 0, gone.push)();
    const stays = collector();
    const stop = feeds.watch('j', 0, stays.push);
    await store.appendUpdates('j', [log('after')]);
    await stays.until(2);
    expect(gone.seen.length).toBeLessThanOrEqual(1);
    stop();
  });
});

// Live job updates for any number of watchers: one store read per job per tick, fanned out to all of its watchers,
// so 200 open pages cost the store what one does. The store is the source (a restart or a late page misses nothing).
import type { JobStore, JobUpdate } from '../store/index.js';

export interface JobFeedOptions {
  /** How often a watched job's new updates are read (ms); the latency a watcher sees at most. */
  pollMs?: number;
  /** Updates read at once; a watcher far behind gets them in pages of this size, one right after the other. */
  pageSize?: number;
  /** Where a failed read goes (the watchers keep waiting; the next tick tries again). */
  logError?: (error: unknown) => void;
}

export interface JobFeeds {
  /**
   * Calls `push` with the job's updates after `after`, in order, now and as they come; never the same update twice.
   * Returns the function that stops watching.
   */
  watch(jobId: string, after: number, push: (updates: JobUpdate[]) => void): () => void;
  /** Watchers now open, over all jobs (for limits and the bench). */
  watcherCount(): number;
}

interface Watcher {
  cursor: number;
  push: (updates: JobUpdate[]) => void;
}

interface Feed {
  watchers: Set<Watcher>;
  timer: NodeJS.Timeout;
  reading: boolean;
}

const DEFAULT_POLL_MS = 250;
const DEFAULT_PAGE_SIZE = 500;

/** @example const feeds = createJobFeeds(store); const stop = feeds.watch(id, 0, (updates) => send(updates)); */
export function createJobFeeds(
  store: JobStore,
  { pollMs = DEFAULT_POLL_MS, pageSize = DEFAULT_PAGE_SIZE, logError = () => {} }: JobFeedOptions = {},
): JobFeeds {
  const feeds = new Map<string, Feed>();
  let watchers = 0;

  const readNew = async (jobId: string, feed: Feed) => {
    if (feed.reading) return;
    feed.reading = true;
    try {
      for (;;) {
        const from = Math.min(...[...feed.watchers].map((watcher) => watcher.cursor));
        if (!Number.isFinite(from)) return;
        const updates = await store.readUpdates(jobId, { after: from, limit: pageSize });
        for (const watcher of feed.watchers) deliver(watcher, updates);
        if (updates.length < pageSize) return;
      }
    } catch (error) {
      logError(error);
    } finally {
      feed.reading = false;
    }
  };

  return {
    watch(jobId, after, push) {
      const watcher: Watcher = { cursor: after, push };
      let feed = feeds.get(jobId);
      if (feed === undefined) {
        const created = { watchers: new Set<Watcher>(), reading: false } as Omit<Feed, 'timer'> as Feed;
        created.timer = setInterval(() => void readNew(jobId, created), pollMs);
        feeds.set(jobId, created);
        feed = created;
      }
      feed.watchers.add(watcher);
      watchers += 1;
      // A new watcher gets what is already there at once, not at the next tick (unless a read is under way).
      void readNew(jobId, feed);
      let stopped = false;
      return () => {
        if (stopped) return;
        stopped = true;
        watchers -= 1;
        feed.watchers.delete(watcher);
        if (feed.watchers.size === 0) {
          clearInterval(feed.timer);
          feeds.delete(jobId);
        }
      };
    },
    watcherCount: () => watchers,
  };
}

/**
 * The updates right after what the watcher has, and only those. A job's `seq` has no gaps, so a page that starts
 * beyond the watcher's cursor (it joined during a read from further on) is skipped: the next read starts from it.
 */
function deliver(watcher: Watcher, updates: readonly JobUpdate[]): void {
  const fresh = updates.filter((update) => update.seq > watcher.cursor);
  if (fresh.length === 0 || fresh[0]!.seq !== watcher.cursor + 1) return;
  watcher.cursor = fresh.at(-1)!.seq;
  watcher.push(fresh);
}

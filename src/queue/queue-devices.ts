// The studio's job store as seen by its routes in queue mode: each new job gets a device of its own.
import { randomUUID } from 'node:crypto';
import type { JobStore } from '../store/index.js';

/**
 * The store lets one job run per device, which is right for a server that runs its jobs itself and wrong on a queue,
 * where any number of workers run jobs at once. There each job is its own device, `queue:<job id>`; the job's log
 * names the worker that ran it, and the worker's `--device` where on it.
 * @example createApp({ store: withQueueDevices(store), … })
 */
export function withQueueDevices(store: JobStore): JobStore {
  return {
    createJob: (job) => {
      const id = job.id ?? randomUUID();
      return store.createJob({ ...job, id, device: `queue:${id}` });
    },
    getJob: (id) => store.getJob(id),
    listJobs: (filter) => store.listJobs(filter),
    applyEvent: (id, event) => store.applyEvent(id, event),
    appendLog: (id, lines) => store.appendLog(id, lines),
    readLog: (id, options) => store.readLog(id, options),
    appendUpdates: (id, updates) => store.appendUpdates(id, updates),
    readUpdates: (id, options) => store.readUpdates(id, options),
    claimNextQueued: (device) => store.claimNextQueued(device),
    markRunningAsInterrupted: () => store.markRunningAsInterrupted(),
    close: () => store.close(),
  };
}

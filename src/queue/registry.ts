// The live workers: each keeps a Redis key with a TTL (its heartbeat); the studio lists the keys that are left.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { WORKER_KEY_PREFIX, workerKey } from './keys.js';

export const workerInfoSchema = z.strictObject({
  name: z.string().min(1),
  host: z.string(),
  pid: z.number().int(),
  /** As given to `--device` (`auto`, `cpu`, `cuda:1`…). */
  device: z.string(),
  concurrency: z.number().int().positive(),
  /** The store ids of the jobs it runs now. */
  jobs: z.array(z.string()),
  started_at: z.iso.datetime(),
  /** Its last heartbeat. */
  seen_at: z.iso.datetime(),
});
export type WorkerInfo = z.infer<typeof workerInfoSchema>;

/** `host-pid`: unique on a cluster as long as host names are. */
export function defaultWorkerName(): string {
  return `${hostname()}-${process.pid}`;
}

export interface Heartbeat {
  /** Removes the worker from the list at once (a clean stop), rather than when its key expires. */
  stop(): Promise<void>;
}

/** Writes the worker's entry now and every `everyMs`; it expires after three missed beats. */
export function startHeartbeat(redis: Redis, info: () => Omit<WorkerInfo, 'seen_at'>, everyMs: number): Heartbeat {
  const beat = async () => {
    const entry: WorkerInfo = { ...info(), seen_at: new Date().toISOString() };
    await redis.set(workerKey(entry.name), JSON.stringify(entry), 'PX', everyMs * 3);
  };
  const onError = (error: unknown) => process.stderr.write(`worker heartbeat: ${String(error)}\n`);
  beat().catch(onError);
  const timer = setInterval(() => beat().catch(onError), everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await redis.del(workerKey(info().name));
    },
  };
}

/** Every worker whose heartbeat has not run out, by name. */
export async function listWorkers(redis: Redis): Promise<WorkerInfo[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${WORKER_KEY_PREFIX}*`, 'COUNT', 200);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  if (keys.length === 0) return [];
  const values = await redis.mget(...keys);
  return values
    .flatMap((value) => {
      // Expired between SCAN and MGET, or written by something else: not a live worker.
      const parsed = value === null ? null : workerInfoSchema.safeParse(JSON.parse(value));
      return parsed?.success ? [parsed.data] : [];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

// `lora-scripts worker --queue redis://… [--workspace DIR] [--db URL] [--device D] [--concurrency N] [--name NAME]`: runs the
// studio's queued jobs (and renders) on this machine until Ctrl-C. docs/scale-out.md tells how to set one up.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import {
  checkQueueReachable,
  defaultWorkerName,
  deviceEnv,
  queueLocation,
  queueTimingFromEnv,
  type RenderConsumer,
  shownQueueUrl,
  startQueueWorker,
  startRenderConsumer,
} from '../../queue/index.js';
import { executorForKind } from '../../server/runner/index.js';
import { databaseLocation } from '../../store/index.js';
import { WORKER_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function workerCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(WORKER_FLAGS, given);
  if (flags.queue === undefined) {
    throw new UsageError('a worker needs the queue it takes jobs from', {
      code: 'queue_missing',
      culprit: '--queue',
      hint: 'give the Redis the studio was started with: `--queue redis://host:6379`',
    });
  }
  const location = queueLocation(flags.queue);
  const workspace = existingFolder(resolve(ctx.cwd, flags.workspace));
  const env = deviceEnv(flags.device, ctx.env);
  const timing = queueTimingFromEnv(ctx.env);
  await checkQueueReachable(location);

  const name = flags.name ?? defaultWorkerName();
  const worker = startQueueWorker({
    location,
    execute: executorForKind({ workspace, env, database: databaseLocation(flags.db, workspace, ctx.cwd) }),
    name,
    concurrency: flags.concurrency,
    device: flags.device,
    timing,
  });
  const renders = startRenders({
    location,
    workspace,
    env,
    workerName: name,
    ...(flags.preload === undefined ? {} : { preloadModel: flags.preload }),
    onError: (error) => process.stderr.write(`worker ${name} renders: ${error.message}\n`),
  });
  renders?.whenReady().catch((error: Error) => {
    process.stderr.write(`worker ${name} could not preload ${flags.preload}: ${error.message}\n`);
  });
  const at = `${shownQueueUrl(location)}, workspace ${workspace}, device ${flags.device}`;
  process.stdout.write(`worker ${name} takes jobs from ${at} (${flags.concurrency} at once)\n`);
  process.stdout.write('Ctrl-C stops the worker (its running jobs go back on the queue)\n');
  await untilStopSignal();
  // Running jobs stop as interrupted: the engine saves its state, the studio queues them again for another worker.
  await Promise.all([worker.stop(), renders?.stop()]);
  return 0;
}

/** The render side; a worker whose renders cannot start (no render consumer on this version) still runs jobs. */
function startRenders(options: Parameters<typeof startRenderConsumer>[0]): RenderConsumer | undefined {
  try {
    return startRenderConsumer(options);
  } catch (error) {
    process.stdout.write(`renders are not taken by this worker: ${(error as Error).message}\n`);
    return undefined;
  }
}

function existingFolder(folder: string): string {
  if (!existsSync(folder) || !statSync(folder).isDirectory()) {
    throw new UsageError(`${folder} is not a folder`, {
      code: 'workspace_missing',
      culprit: '--workspace',
      hint: "mount the studio's workspace on this machine and give its path (every worker sees the same files)",
    });
  }
  return folder;
}

function untilStopSignal(): Promise<void> {
  return new Promise((done) => {
    const stop = () => {
      for (const signal of STOP_SIGNALS) process.off(signal, stop);
      done();
    };
    for (const signal of STOP_SIGNALS) process.on(signal, stop);
  });
}

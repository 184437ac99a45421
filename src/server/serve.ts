// The I/O shell of the studio: workspace folder, store file, access policy, listening socket, and closing them all.
import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { UsageError } from '../errors.js';
import {
  closeDatabases,
  databaseLocation,
  describeDatabase,
  type Job,
  type JobStore,
  openJobStore,
} from '../store/index.js';
import {
  checkQueueReachable,
  closeQueueInspectors,
  queueLocation,
  queueTimingFromEnv,
  shownQueueUrl,
  startQueueDispatcher,
  withQueueDevices,
} from '../queue/index.js';
import { TOOL_VERSION } from '../version.js';
import { createApp, STORE_FILE } from './app.js';
import { closeSharedRenderWorker } from './render-pool.js';

export { STORE_FILE };
import { DEFAULT_DEVICE, executorForKind, startJobRunner } from './runner/index.js';
import { accessPolicy, isLoopbackHost, newToken } from './security/index.js';

export interface ServeOptions {
  host: string;
  /** 0 picks a free port (tests); the URL shows the one bound. */
  port: number;
  /** Created when missing; relative paths are from the current folder. */
  workspace: string;
  token?: string | undefined;
  /** Where start-up lines go (default: stdout). */
  log?: (line: string) => void;
  /** The environment the training engine runs with (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Queue every interrupted job again at start (`--resume-interrupted`), as its resume route would. */
  resumeInterrupted?: boolean | undefined;
  /** `--db`: a `postgres://` URL or a SQLite file; default: the workspace's `.lora-scripts/studio.db`. */
  db?: string | undefined;
  /** `--queue`: a `redis://` URL; jobs then go to `lora-scripts worker` processes instead of running here. */
  queue?: string | undefined;
}

export interface RunningServer {
  /** The address to open, with `?token=` when the server needs one. */
  url: string;
  /** Stops accepting, drops open connections, stops the runner (its job becomes interrupted), closes the store. */
  close(): Promise<void>;
}

export async function startServer({
  host,
  port,
  workspace,
  token,
  log = printLine,
  env = process.env,
  resumeInterrupted = false,
  db,
  queue,
}: ServeOptions): Promise<RunningServer> {
  // A LAN bind without a token would let anyone on the network in, so one is made and printed rather than refused.
  const needsToken = token === undefined && !isLoopbackHost(host);
  const effectiveToken = needsToken ? newToken() : token;
  // Checks the token before anything is created; the real policy needs the bound port, known only after listen.
  accessPolicy({ host, port: port || 1, token: effectiveToken });

  const root = resolve(workspace);
  mkdirSync(root, { recursive: true });
  const database = databaseLocation(db, root);
  const location = queue === undefined ? undefined : queueLocation(queue);
  const queueTiming = location === undefined ? undefined : queueTimingFromEnv(env);
  if (location !== undefined) await checkQueueReachable(location);
  const store = await openJobStore(database);
  // On a queue, running jobs run on workers that outlived this server: the dispatcher checks them on the queue.
  const interrupted = location === undefined ? await store.markRunningAsInterrupted() : [];
  if (interrupted.length > 0) {
    log(
      `${interrupted.length} job(s) were running when the server last stopped; marked interrupted: ${ids(interrupted)}`,
    );
  }
  if (resumeInterrupted) {
    const requeued = await requeueInterrupted(store);
    if (requeued.length > 0) log(`queued again, to go on from their last saved state: ${ids(requeued)}`);
  }

  let resolveApp: (app: ReturnType<typeof createApp>) => void = () => {};
  const appReady = new Promise<ReturnType<typeof createApp>>((done) => {
    resolveApp = done;
  });
  const server = createAdaptorServer({ fetch: async (request, env) => (await appReady).fetch(request, env) }) as Server;
  try {
    await listen(server, host, port);
  } catch (error) {
    await store.close();
    await closeDatabases();
    throw listenError(error, host, port);
  }
  const bound = (server.address() as AddressInfo).port;
  const policy = accessPolicy({ host, port: bound, token: effectiveToken });
  let runner: { wake(): void; stop(): Promise<void> };
  try {
    runner =
      location === undefined
        ? startJobRunner({
            store,
            device: DEFAULT_DEVICE,
            execute: executorForKind({ workspace: root, env, database }),
          })
        : await startQueueDispatcher({ store, location, log, ...(queueTiming ? { timing: queueTiming } : {}) });
  } catch (error) {
    await closeAll(server, async () => {
      await store.close();
      await closeDatabases();
    });
    throw error;
  }
  resolveApp(
    createApp({
      store: location === undefined ? store : withQueueDevices(store),
      workspace: root,
      policy,
      version: TOOL_VERSION,
      env,
      database,
      onJobQueued: runner.wake,
      ...(location === undefined ? {} : { queue: location }),
    }),
  );

  const url = `http://${shownHost(host, bound, policy.anyHost)}/${policy.tokenRequired ? `?token=${effectiveToken}` : ''}`;
  log(`lora-scripts studio on ${url} (workspace ${root})`);
  if (database.kind === 'postgres') log(`records in ${describeDatabase(database)}`);
  if (location !== undefined)
    log(`jobs go to the workers on ${shownQueueUrl(location)} (\`lora-scripts worker --queue …\`)`);
  if (needsToken)
    log('a token was made because the host is not loopback; API clients send `Authorization: Bearer <token>`');
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= closeAll(server, async () => {
      await runner.stop();
      await closeQueueInspectors();
      await closeSharedRenderWorker(store);
      await store.close();
      await closeDatabases();
    });
    return closing;
  };
  return { url, close };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.off('error', fail);
      done();
    });
  });
}

/** The usual reasons a bind fails, as one line naming the flag to change. */
function listenError(error: unknown, host: string, port: number): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') {
    return new UsageError(`port ${port} on ${host} is already in use`, {
      code: 'port_in_use',
      culprit: '--port',
      hint: 'stop the other server, or pick another port with `--port`',
    });
  }
  if (code === 'EACCES' || code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') {
    return new UsageError(`cannot listen on ${host}:${port} (${code})`, {
      code: 'cannot_listen',
      culprit: '--host',
      hint: 'use an address of this machine (default `127.0.0.1`) and a port above 1023',
    });
  }
  return error;
}

async function closeAll(server: Server, closeStore: () => Promise<void>): Promise<void> {
  await new Promise<void>((done) => {
    server.close(() => done());
    // Browsers keep idle connections open; without this, close waits for them to time out.
    server.closeAllConnections();
  });
  await closeStore();
}

/** The address as the user gave it (`127.0.0.1` stays `127.0.0.1`); a wildcard bind is shown as `localhost`. */
function shownHost(host: string, port: number, anyHost: boolean): string {
  const name = anyHost ? 'localhost' : host.replace(/^\[(.*)\]$/, '$1');
  return `${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/** Every interrupted job back on the queue, as `POST /api/jobs/{id}/resume` puts one (a train job: `--resume auto`). */
async function requeueInterrupted(store: JobStore): Promise<Job[]> {
  const requeued: Job[] = [];
  for (const job of await store.listJobs({ status: 'interrupted' })) {
    requeued.push(await store.applyEvent(job.id, { type: 'resume', resume_from: 'auto' }));
  }
  return requeued;
}

function ids(jobs: readonly { id: string }[]): string {
  return jobs.map((job) => job.id).join(', ');
}

function printLine(line: string): void {
  process.stdout.write(`${line}\n`);
}

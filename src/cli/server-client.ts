// `--server URL`: a command's job submitted to a studio server (POST /api/jobs) instead of run here, then followed
// (its log, then its final status) until it ends, so a job started from the CLI shows in the studio like any other.
import { InterruptedError, LoraScriptsError, UsageError } from '../errors.js';

export type RemoteJobKind = 'prepare' | 'auto-label' | 'train' | 'generate' | 'merge';

export interface ServerFlags {
  server?: string | undefined;
  token?: string | undefined;
}

export interface RunOnServerOptions {
  /** `http://host:port`, as `serve` prints it (a `?token=` in it is used when `--token` is not given). */
  server: string;
  token?: string | undefined;
  kind: RemoteJobKind;
  /** The job's config; its paths are the server workspace's, not this folder's. */
  config: Record<string, unknown>;
  /** Where the job id and the outputs go (default: stdout) and the log lines (default: stderr). */
  print?: (line: string) => void;
  log?: (line: string) => void;
  pollMs?: number;
  /** Aborting it (Ctrl-C) cancels the job on the server; following goes on until the job has ended. */
  cancelSignal?: AbortSignal;
}

interface JobView {
  id: string;
  status: string;
  outputs: string[];
  error: { code: string; message: string; hint?: string } | null;
}

const FINAL_STATUSES = ['done', 'failed', 'cancelled', 'interrupted'];
const DEFAULT_POLL_MS = 500;

/**
 * Submits the job, prints its id, follows its log until it ends and prints its outputs. Resolves 0 when it is
 * done; throws the job's own error when it failed, InterruptedError (exit 130) when it was interrupted, and a
 * LoraScriptsError when it was cancelled or the server refused it (the server's message and hint).
 * @example await runOnServer({ server: 'http://127.0.0.1:6008', kind: 'merge', config: { base_model, loras, output } })
 */
export async function runOnServer(options: RunOnServerOptions): Promise<number> {
  const print = options.print ?? ((line) => process.stdout.write(`${line}\n`));
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  const api = serverApi(options.server, options.token);
  const submitted = await api.call<JobView>('POST', '/api/jobs', { kind: options.kind, config: options.config });
  print(submitted.id);
  log(`${options.kind} job ${submitted.id} queued on ${api.origin}; following its log (Ctrl-C cancels it)`);
  const cancel = () => {
    log(`cancelling job ${submitted.id}`);
    api.call('POST', `/api/jobs/${submitted.id}/cancel`, {}).catch((error: unknown) => log(messageOf(error)));
  };
  options.cancelSignal?.addEventListener('abort', cancel, { once: true });
  try {
    const job = await follow(api, submitted.id, log, options.pollMs ?? DEFAULT_POLL_MS);
    return finish(job, print);
  } finally {
    options.cancelSignal?.removeEventListener('abort', cancel);
  }
}

/** Ctrl-C while following: the job is cancelled on the server rather than this process killed. */
export function cancelOnInterrupt(): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.once('SIGINT', onInterrupt);
  return { signal: controller.signal, dispose: () => process.off('SIGINT', onInterrupt) };
}

/** `runOnServer` with Ctrl-C cancelling the job: what a command calls when `--server` is given. */
export async function submitToServer(
  flags: ServerFlags & { server: string },
  kind: RemoteJobKind,
  config: Record<string, unknown>,
): Promise<number> {
  const interrupt = cancelOnInterrupt();
  try {
    return await runOnServer({
      server: flags.server,
      token: flags.token,
      kind,
      config,
      cancelSignal: interrupt.signal,
    });
  } finally {
    interrupt.dispose();
  }
}

/** Flags that only mean something to a local run: refused with `--server` rather than silently dropped. */
export function refuseLocalOnlyFlags(given: Record<string, unknown>, flagNames: readonly string[]): void {
  const used = flagNames.filter((name) => {
    const value = given[name];
    return value !== undefined && value !== false && !(Array.isArray(value) && value.length === 0);
  });
  if (used.length > 0) {
    const shown = used.map((name) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    throw new UsageError(`${shown} cannot be sent to a server`, {
      code: 'usage',
      culprit: '--server',
      hint: 'leave it out, or run the command here without `--server`',
    });
  }
}

async function follow(api: ServerApi, id: string, log: (line: string) => void, pollMs: number): Promise<JobView> {
  let from = 0;
  for (;;) {
    // The status first: a job that has ended has written all its log, so the read after it is the last.
    const job = await api.call<JobView>('GET', `/api/jobs/${id}`);
    const page = await api.call<{ lines: { text: string }[]; next: number }>('GET', `/api/jobs/${id}/log?from=${from}`);
    for (const line of page.lines) log(line.text);
    from = page.next;
    if (FINAL_STATUSES.includes(job.status) && page.lines.length === 0) return job;
    if (page.lines.length === 0) await new Promise((done) => setTimeout(done, pollMs));
  }
}

function finish(job: JobView, print: (line: string) => void): number {
  if (job.status === 'done') {
    for (const output of job.outputs) print(output);
    return 0;
  }
  if (job.status === 'interrupted') {
    throw new InterruptedError('the job was interrupted (the server stopped)', {
      code: 'interrupted',
      culprit: `job ${job.id}`,
      hint: `resume it: POST /api/jobs/${job.id}/resume, or the studio's Resume button`,
    });
  }
  if (job.status === 'cancelled') {
    throw new LoraScriptsError('the job was cancelled', { code: 'job_cancelled', culprit: `job ${job.id}` });
  }
  const error = job.error ?? { code: 'job_failed', message: 'the job failed' };
  throw new LoraScriptsError(error.message, {
    code: error.code,
    ...(error.hint ? { hint: error.hint } : {}),
  });
}

interface ServerApi {
  origin: string;
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
}

function serverApi(server: string, flagToken: string | undefined): ServerApi {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`\`${server}\` is not a URL`, {
      code: 'usage',
      culprit: '--server',
      hint: 'give the address `lora-scripts serve` printed, e.g. `http://127.0.0.1:6008`',
    });
  }
  const token = flagToken ?? url.searchParams.get('token') ?? undefined;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return {
    origin: url.origin,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (error) {
        throw new UsageError(`cannot reach the studio server at ${url.origin} (${messageOf(error)})`, {
          code: 'server_unreachable',
          culprit: '--server',
          hint: 'start it with `lora-scripts serve`, or check the address',
        });
      }
      const payload = (await response.json().catch(() => null)) as unknown;
      if (response.ok) return payload as T;
      throw refusedError(response.status, payload);
    },
  };
}

/** The server's `{error: {code, message, hint}}` as the error this command exits with. */
function refusedError(status: number, payload: unknown): LoraScriptsError {
  const error = (payload as { error?: { code?: string; message?: string; hint?: string } } | null)?.error;
  const details = { code: error?.code ?? `http_${status}`, ...(error?.hint ? { hint: error.hint } : {}) };
  const message = `the server refused the job: ${error?.message ?? `HTTP ${status}`}`;
  if (status === 401) {
    return new UsageError(message, {
      ...details,
      culprit: '--token',
      hint: 'pass the token `lora-scripts serve` printed: `--token T`, or the whole URL with `?token=`',
    });
  }
  return new LoraScriptsError(message, details);
}

function messageOf(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error ? cause.message : error.message;
  }
  return String(error);
}

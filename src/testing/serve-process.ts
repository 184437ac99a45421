// Tests only: `lora-scripts serve` as a real child process (the built CLI), its URL read from what it prints, and the
// processes it starts, so a test can kill it the way the OOM killer would and look after its engine.
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../engine/paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
/** Generous: a busy machine may take long to start Node and open the store. */
const START_TIMEOUT_MS = 120_000;
const URL_LINE = /^lora-scripts studio on (http:\/\/\S+\/)/m;
const READY_LINE = 'Ctrl-C stops the server';

export interface ServeProcess {
  child: ChildProcess;
  /** The URL the server printed, `http://127.0.0.1:PORT/`. */
  url: string;
  /** Everything it printed on stdout so far. */
  stdout(): string;
  /** Resolves with the exit code, or the signal that ended it. */
  exited: Promise<number | NodeJS.Signals>;
}

/** Starts `serve --port 0 --workspace <workspace> ...extraArgs` and resolves once it serves. */
export async function startServeProcess(
  workspace: string,
  extraArgs: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<ServeProcess> {
  const child = spawn('node', [BIN, 'serve', '--port', '0', '--workspace', workspace, ...extraArgs], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | NodeJS.Signals>((done) =>
    child.on('exit', (code, signal) => done(signal ?? code ?? -1)),
  );
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`serve exited early:\n${stdout}${stderr}`);
      return stdout.includes(READY_LINE);
    },
    { what: `serve to print "${READY_LINE}" (it printed: ${stdout}${stderr})`, timeoutMs: START_TIMEOUT_MS },
  );
  const url = URL_LINE.exec(stdout)?.[1];
  if (url === undefined) throw new Error(`serve printed no URL:\n${stdout}`);
  return { child, url, stdout: () => stdout, exited };
}

/** The pids of a process's children (Linux: /proc). */
export function childPids(pid: number): number[] {
  const text = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
  return text.split(/\s+/).filter(Boolean).map(Number);
}

/** False once the process has exited; a zombie (exited, not yet reaped by its new parent) counts as exited. */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state follows the command name in parentheses, which may itself contain spaces or parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

export interface WaitOptions {
  /** What is awaited, for the error when it never comes. */
  what: string;
  timeoutMs: number;
  pollMs?: number;
}

/** Polls `check` until it returns something other than false/null/undefined; fails after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | false | null | undefined | Promise<T | false | null | undefined>,
  { what, timeoutMs, pollMs = 50 }: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== false && value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((done) => setTimeout(done, pollMs));
  }
}

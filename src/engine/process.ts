// Runs the engine: spawns Python with one JSON request, reads typed events line by line, kills it when we exit.
import { spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { EngineError, InterruptedError, type LoraScriptsError } from '../errors.js';
import { engineCommand, SINGLE_PROCESS, type EngineLaunch } from './devices.js';
import { ENGINE_SOURCE_DIR, engineVenvDir, venvPython, type Env } from './paths.js';
import {
  parseEngineLine,
  PROTOCOL_VERSION,
  validateEngineRequest,
  type EngineEvent,
  type EngineRequestBody,
  type EventOf,
} from './protocol.js';

export interface RunEngineOptions {
  env: Env;
  onEvent?: (event: EngineEvent) => void;
  /** Engine stderr is appended here (e.g. `<output_dir>/logs/engine.log`). */
  logFile?: string;
  /** Also echo engine stderr to our stderr. */
  verbose?: boolean;
  /** Forward Ctrl-C to the engine, which then saves what it has and finishes with `done`. */
  forwardInterrupt?: boolean;
  /** Stops the run the way Ctrl-C does (the engine saves and finishes with `done`), e.g. for `early_stop`. */
  stopSignal?: AbortSignal;
  /** One process (the default) or several through accelerate's launcher (`devices`, engine/devices.ts). */
  launch?: EngineLaunch;
}

export interface EngineRunResult {
  events: EngineEvent[];
  done: EventOf<'done'>;
}

function engineEnv(env: Env): NodeJS.ProcessEnv {
  const pythonPath = [ENGINE_SOURCE_DIR, env.PYTHONPATH].filter(Boolean).join(':');
  return { ...env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
}

/** Spawns `python -m lora_scripts_engine`, writes the request, resolves with the `done` event or rejects with one clear error. */
export function runEngine(command: EngineRequestBody, options: RunEngineOptions): Promise<EngineRunResult> {
  let request: ReturnType<typeof validateEngineRequest>;
  try {
    request = validateEngineRequest({ protocol: PROTOCOL_VERSION, ...command });
  } catch (error) {
    return Promise.reject(error);
  }
  const python = venvPython(engineVenvDir(options.env));
  if (options.logFile) mkdirSync(dirname(options.logFile), { recursive: true });
  const launch = engineCommand(options.launch ?? SINGLE_PROCESS, availableParallelism());
  // Several processes: every rank reads the request from one file; the CLI's pid lets each rank exit when we die.
  const requestDir = launch.usesRequestFile ? mkdtempSync(join(tmpdir(), 'lora-scripts-request-')) : null;
  const args = [...launch.args];
  if (requestDir) {
    const requestFile = join(requestDir, 'request.json');
    writeFileSync(requestFile, `${JSON.stringify(request)}\n`);
    args.push('--request', requestFile);
  }
  const child = spawn(python, args, {
    env: {
      ...engineEnv(options.env),
      ...launch.env,
      ...(requestDir ? { LORA_SCRIPTS_WATCH_PID: String(process.pid) } : {}),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
    // A launcher in its own process group: a terminal's Ctrl-C reaches us alone, and we pass it to the first rank
    // (below). Reaching the launcher, it would stop the ranks with a 30 s deadline, cutting a long ending short.
    detached: requestDir !== null,
  });
  const killChild = () => child.kill('SIGKILL');
  process.once('exit', killChild);
  let interrupted = false;
  let firstRankPid: number | undefined; // a multi-process run's `hello` names the rank that takes Ctrl-C
  const stop = () => {
    if (firstRankPid === undefined) return child.kill('SIGINT');
    try {
      process.kill(firstRankPid, 'SIGINT');
    } catch {
      child.kill('SIGINT'); // that rank is already gone
    }
  };
  const onSigint = () => {
    interrupted = true;
    stop();
  };
  if (options.forwardInterrupt) process.on('SIGINT', onSigint);
  options.stopSignal?.addEventListener('abort', stop, { once: true });

  const events: EngineEvent[] = [];
  let failure: LoraScriptsError | undefined;
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-4000);
    if (options.logFile) appendFileSync(options.logFile, chunk);
    if (options.verbose) process.stderr.write(chunk);
  });
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => {
    if (failure || line.trim() === '') return;
    try {
      const event = parseEngineLine(line);
      events.push(event);
      if (event.type === 'hello' && event.pid !== undefined) firstRankPid = event.pid;
      if (event.type === 'error') failure = errorFromEvent(event);
      options.onEvent?.(event);
    } catch (error) {
      failure = error as LoraScriptsError;
      child.kill('SIGKILL');
    }
  });
  child.stdin.on('error', () => undefined); // an engine that dies at once closes stdin; the exit handler reports it
  child.stdin.end(`${JSON.stringify(request)}\n`);

  return new Promise((resolve, reject) => {
    child.on('error', (error) =>
      reject(
        new EngineError(`cannot start the engine (${error.message})`, {
          code: 'engine_missing',
          culprit: python,
          hint: 'run `lora-scripts setup`',
        }),
      ),
    );
    child.on('close', (code, signal) => {
      process.removeListener('exit', killChild);
      if (requestDir) rmSync(requestDir, { recursive: true, force: true });
      process.removeListener('SIGINT', onSigint);
      const done = events.find((e): e is EventOf<'done'> => e.type === 'done');
      if (failure) return reject(failure);
      if (done) return resolve({ events, done });
      if (interrupted)
        return reject(new InterruptedError('interrupted before anything was saved', { code: 'interrupted' }));
      const lastLine = stderrTail.trim().split('\n').pop() ?? '';
      reject(
        new EngineError(
          `the engine stopped unexpectedly (${signal ?? `exit ${code}`})${lastLine ? `: ${lastLine}` : ''}`,
          {
            code: 'engine_crashed',
            culprit: 'engine',
            hint: options.logFile ? `the full log is in ${options.logFile}` : 'run again with `--verbose`',
          },
        ),
      );
    });
  });
}

function errorFromEvent(event: EventOf<'error'>): EngineError {
  return new EngineError(event.message, {
    code: event.code,
    culprit: event.culprit ?? undefined,
    hint: event.hint ?? undefined,
    cause: event.traceback ?? undefined,
  });
}

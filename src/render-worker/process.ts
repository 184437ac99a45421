// The shell around the engine's `generate-worker`: one Python process that keeps the base model loaded, fed one job at
// a time from a FIFO queue. Spawned on the first render; a process that dies fails the job it was running (with the
// last line it logged) and a fresh one is spawned for the next request.
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { checkBaseModel, engineFacts } from '../checkpoint/index.js';
import {
  ENGINE_SOURCE_DIR,
  engineVenvDir,
  isEngineReady,
  parseEngineLine,
  PROTOCOL_VERSION,
  validateEngineRequest,
  venvPython,
  workerJobSchema,
  type EngineEvent,
} from '../engine/index.js';
import { EngineError, InterruptedError, type LoraScriptsError, UsageError } from '../errors.js';
import {
  baseModelSha256,
  engineLoraFile,
  loraShortHash,
  PARAMETERS_KEY,
  refuseFluxTransformerFile,
  withPngText,
} from '../generate/index.js';
import { TOOL_VERSION } from '../version.js';
import { type BaseModelRecord, planRender, type PlannedRender } from './plan.js';
import type { RenderedImage, RenderProgress, RenderRequest, RenderWorker, RenderWorkerStats } from './types.js';

export interface RenderWorkerOptions {
  env: NodeJS.ProcessEnv;
  /** Engine stderr goes here too (besides the tail kept for crash messages). */
  onLog?: (chunk: string) => void;
}

interface Pending {
  id: string;
  plan: PlannedRender;
  seeds: number[];
  signal: AbortSignal | undefined;
  onProgress: ((progress: RenderProgress) => void) | undefined;
  resolve: (images: RenderedImage[]) => void;
  reject: (error: Error) => void;
  sent: boolean;
}

const CLOSE_GRACE_MS = 5000;
const CANCELLED_HINT = 'the request was cancelled; send it again to render it';

/** `startRenderWorker({env})`: no process yet; the first `render` starts it. */
export function startRenderWorker(options: RenderWorkerOptions): RenderWorker {
  return new WorkerProcess(options);
}

class WorkerProcess implements RenderWorker {
  private child: ChildProcessWithoutNullStreams | undefined;
  private outDir: string | undefined;
  private readonly queue: Pending[] = [];
  private current: Pending | undefined;
  private readonly counts: RenderWorkerStats = { base_loads: 0, lora_loads: 0, renders: 0 };
  private stderrTail = '';
  private nextId = 1;
  private closed = false;
  private readonly baseModels = new Map<string, Promise<BaseModelRecord>>();
  /** Per LoRA file version, the file the engine loads (engineLoraFile); converted copies live in `stagingDir`. */
  private readonly engineLoras = new Map<string, Promise<string>>();
  private stagingDir: string | undefined;
  private nextStaged = 0;
  private readonly killOnExit = () => this.child?.kill('SIGKILL');

  constructor(private readonly options: RenderWorkerOptions) {}

  stats(): RenderWorkerStats {
    return { ...this.counts };
  }

  async render(
    request: RenderRequest,
    signal?: AbortSignal,
    onProgress?: (progress: RenderProgress) => void,
  ): Promise<RenderedImage[]> {
    if (this.closed) throw closedError();
    if (signal?.aborted) throw cancelledError();
    if (!isEngineReady(this.options.env))
      throw new UsageError('the engine is not set up', { code: 'engine_missing', hint: 'run `lora-scripts setup`' });
    const base = await this.baseModel(request.base_model);
    const hashes = request.loras.map((lora) => loraShortHash(lora.path));
    const id = String(this.nextId++);
    const flux = base.engineFacts.family === 'flux';
    const enginePaths = await Promise.all(request.loras.map((lora) => this.engineLoraPath(lora.path, flux)));
    const plan = planRender(request, id, base, hashes, `lora-scripts-${TOOL_VERSION}`, enginePaths);
    for (const note of plan.notes) this.options.onLog?.(`note: render ${id}: ${note}\n`);
    workerJobSchema.parse(plan.job); // a job the engine would refuse is our bug, caught before it is sent
    if (signal?.aborted) throw cancelledError();
    return new Promise<RenderedImage[]>((resolve, reject) => {
      const pending: Pending = { id, plan, seeds: request.seeds, signal, onProgress, resolve, reject, sent: false };
      signal?.addEventListener('abort', () => this.cancel(pending), { once: true });
      this.queue.push(pending);
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(closedError());
    const child = this.child;
    if (child) {
      const exited = new Promise<void>((done) => child.once('close', () => done()));
      child.stdin.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), CLOSE_GRACE_MS);
      await exited;
      clearTimeout(timer);
    }
    if (this.outDir) rmSync(this.outDir, { recursive: true, force: true });
    if (this.stagingDir) rmSync(this.stagingDir, { recursive: true, force: true });
  }

  /** The base model's facts and hash, read once per file version (hashing a 2 GB checkpoint takes seconds). */
  private baseModel(path: string): Promise<BaseModelRecord> {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat)
      throw new UsageError(`the base model \`${path}\` does not exist`, {
        code: 'base_model_missing',
        culprit: 'base_model',
      });
    const key = `${path}\0${stat.size}\0${stat.mtimeMs}`;
    let record = this.baseModels.get(key);
    if (!record) {
      const verdict = checkBaseModel(path, { culprit: path, loraHint: 'give a base model checkpoint, not a LoRA' });
      // As `generate`: a Flux diffusers folder renders; a transformer file alone has no VAE or text encoders.
      if (verdict.family === 'flux' && verdict.layout === 'single-file') refuseFluxTransformerFile(path);
      record = baseModelSha256(path).then((sha256) => ({
        path,
        sha256,
        name: basename(path, extname(path)),
        engineFacts: engineFacts(verdict),
        ...(verdict.fluxVariant ? { fluxVariant: verdict.fluxVariant } : {}),
      }));
      this.baseModels.set(key, record);
      record.catch(() => this.baseModels.delete(key));
    }
    return record;
  }

  /**
   * What the engine loads for a LoRA, as `generate` does (engineLoraFile): the file itself, or, for a kohya-key
   * LoHa/DoRA (what training writes for A1111), its peft copy, or, on a Flux base, a kohya-named Flux LoRA's
   * diffusers-named copy; converted once per file version, so the engine's cache of loaded LoRAs (by path) keeps
   * working. A LoKr stays as it is and the engine refuses it with generate's hint.
   */
  private engineLoraPath(path: string, flux: boolean): Promise<string> {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (!stat) return Promise.resolve(path); // the engine names the missing file
    const key = `${path}\0${stat.size}\0${stat.mtimeMs}\0${flux}`;
    let file = this.engineLoras.get(key);
    if (!file) {
      this.stagingDir ??= mkdtempSync(join(tmpdir(), 'lora-scripts-render-loras-'));
      file = engineLoraFile(path, this.stagingDir, this.nextStaged++, flux);
      this.engineLoras.set(key, file);
      file.catch(() => this.engineLoras.delete(key));
    }
    return file;
  }

  private cancel(pending: Pending): void {
    const waiting = this.queue.indexOf(pending);
    if (waiting >= 0) {
      this.queue.splice(waiting, 1);
      pending.reject(cancelledError());
    } else if (this.current === pending && this.child) {
      // The engine stops at its next sampling step and answers `job_done` with `cancelled: true`.
      this.child.stdin.write(`${JSON.stringify({ cancel: pending.id })}\n`);
    }
  }

  /** Sends the next job when none is running. */
  private pump(): void {
    if (this.current || this.closed) return;
    const next = this.queue.shift();
    if (!next) return;
    try {
      this.ensureProcess();
    } catch (error) {
      next.reject(error as Error);
      this.pump();
      return;
    }
    this.current = next;
    next.sent = true;
    this.child!.stdin.write(`${JSON.stringify(next.plan.job)}\n`);
  }

  private ensureProcess(): void {
    if (this.child) return;
    this.outDir ??= mkdtempSync(join(tmpdir(), 'lora-scripts-render-'));
    const request = validateEngineRequest({
      protocol: PROTOCOL_VERSION,
      command: 'generate-worker',
      options: { out_dir: this.outDir },
    });
    const python = venvPython(engineVenvDir(this.options.env));
    const child = spawn(python, ['-m', 'lora_scripts_engine'], {
      env: engineEnv(this.options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    this.stderrTail = '';
    process.once('exit', this.killOnExit);
    child.stdin.on('error', () => undefined); // a dead engine closes stdin; 'close' reports it
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      this.options.onLog?.(chunk);
    });
    createInterface({ input: child.stdout }).on('line', (line) => this.onLine(child, line));
    child.on('error', (error) => this.onExit(child, `cannot start the engine (${error.message})`));
    child.on('close', (code, signal) => this.onExit(child, `exit ${signal ?? code}`));
    child.stdin.write(`${JSON.stringify(request)}\n`);
  }

  private onLine(child: ChildProcessWithoutNullStreams, line: string): void {
    if (line.trim() === '' || child !== this.child) return;
    let event: EngineEvent;
    try {
      event = parseEngineLine(line);
    } catch (error) {
      this.settle((p) => p.reject(error as Error));
      child.kill('SIGKILL');
      return;
    }
    if (event.type === 'stage' && event.name === 'load_base_model') this.counts.base_loads += 1;
    else if (event.type === 'stage' && event.name === 'load_lora') this.counts.lora_loads += 1;
    else if (event.type === 'render_progress' && event.job === this.current?.id) {
      const { image, images, step, steps } = event;
      this.current!.onProgress?.({ image, images, step, steps });
    } else if (event.type === 'job_done' && event.job === this.current?.id) {
      const pending = this.current;
      if (event.cancelled) {
        this.settle((p) => p.reject(cancelledError()));
        return;
      }
      try {
        const images = this.readImages(pending, event.files);
        this.counts.renders += 1;
        this.settle((p) => p.resolve(images));
      } catch (error) {
        this.settle((p) => p.reject(error as Error));
      }
    } else if (event.type === 'error' && (event.job === this.current?.id || !event.job)) {
      const failure = new EngineError(event.message, {
        code: event.code,
        culprit: event.culprit ?? undefined,
        hint: event.hint ?? undefined,
        cause: event.traceback ?? undefined,
      });
      this.settle((p) => p.reject(failure));
    }
  }

  /** The engine's plain PNGs, read and removed, each given its WebUI `parameters` chunk. */
  private readImages(pending: Pending, files: string[]): RenderedImage[] {
    return files.map((file, k) => {
      const png = readFileSync(file);
      rmSync(file, { force: true });
      const infotext = pending.plan.infotexts[k]!;
      return { png: withPngText(png, PARAMETERS_KEY, infotext, file), seed: pending.seeds[k]!, infotext };
    });
  }

  /** Ends the running job one way or the other, then sends the next. */
  private settle(outcome: (pending: Pending) => void): void {
    const pending = this.current;
    this.current = undefined;
    if (pending) outcome(pending);
    this.pump();
  }

  private onExit(child: ChildProcessWithoutNullStreams, how: string): void {
    if (child !== this.child) return;
    this.child = undefined;
    process.removeListener('exit', this.killOnExit);
    if (this.closed) {
      this.settle((p) => p.reject(closedError()));
      return;
    }
    const lastLine = this.stderrTail.trim().split('\n').pop() ?? '';
    const crash = new EngineError(`the render worker stopped unexpectedly (${how})${lastLine ? `: ${lastLine}` : ''}`, {
      code: 'render_worker_crashed',
      culprit: 'engine',
      hint: 'the next request starts a fresh worker; run `lora-scripts doctor` if it happens again',
    });
    // The next request (already waiting, or the next to come) spawns a fresh process.
    this.settle((p) => p.reject(crash));
  }
}

/** Copy of engineEnv in src/engine/process.ts (the engine's import path and unbuffered UTF-8 output). */
function engineEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const pythonPath = [ENGINE_SOURCE_DIR, env.PYTHONPATH].filter(Boolean).join(':');
  return { ...env, PYTHONPATH: pythonPath, PYTHONUNBUFFERED: '1', PYTHONIOENCODING: 'utf-8' };
}

function cancelledError(): LoraScriptsError {
  return new InterruptedError('the render was cancelled', { code: 'render_cancelled', hint: CANCELLED_HINT });
}

function closedError(): LoraScriptsError {
  return new EngineError('the render worker was closed', {
    code: 'render_worker_closed',
    hint: 'the server is shutting down; send the request to a running server',
  });
}

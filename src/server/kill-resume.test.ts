// The studio survives being killed mid-training: `serve` gets SIGKILL while a train job runs (the engine is left to
// notice on its own), is started again on the same workspace, and the job, now `interrupted`, resumes from its last
// saved state to the same LoRA as a run that was never killed. Real processes through the built CLI (`npm run build`
// first), on the shipped demo model; Linux, as it finds the engine through /proc.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Job, jobSchema } from '../store/index.js';
import { childPids, isRunning, type ServeProcess, startServeProcess, waitFor } from '../testing/serve-process.js';
import { jobLogSchema } from './schemas.js';
import { ENGINE_TEST_ENV, makeDemoWorkspace } from '../testing/demo-workspace.js';
import { expectSameLora, loraTensors, savedSteps } from '../testing/training-output.js';

// One torch thread: the busy test machine runs faster that way (src/generate/run.test.ts measured it). The CPU even
// where there is a GPU: its steps are slow enough to kill the run in the middle, and its kernels deterministic, so a
// resumed run can match an uninterrupted one.
const ENV = { ...ENGINE_TEST_ENV, CUDA_VISIBLE_DEVICES: '' };
const TOTAL_STEPS = 24;
const RUN = {
  train_data_dir: 'data/demo',
  base_model: 'models/demo-sd1.safetensors',
  output_dir: 'output/demo',
  resolution: 64,
  lora_rank: 4,
  batch_size: 2,
  learning_rate: 1e-3,
  max_train_steps: TOTAL_STEPS,
  seed: 7,
  // fp32, so that the comparison sees the trained weights, not their rounding.
  save_precision: 'fp32',
  // A state at every step, as a long run gets one every few minutes: what a killed server's job resumes from.
  save_state_every_minutes: 0.0001,
};
const OUTPUT_DIR = ['output', 'demo'] as const;
const LORA_FILE = [...OUTPUT_DIR, 'demo.safetensors'] as const;
/** The engine's own final file (engine/lora_scripts_engine/lora_files.py), which the WebUI file is made from. */
const ENGINE_LORA_FILE = [...OUTPUT_DIR, 'pytorch_lora_weights.safetensors'] as const;
/** Generous: the steps take well under a second each, the machine may be busy with other tests. */
const WAIT_MS = 300_000;
// engine/tests/test_resume_e2e.py's tolerance for "the same LoRA" (torch.allclose).
const RTOL = 1e-5;
const ATOL = 1e-7;

const cleanups: (() => void)[] = [];
let uninterrupted: Map<string, Float32Array>;

async function newWorkspace(): Promise<string> {
  const workspace = await makeDemoWorkspace({ prefix: 'lora-kill-resume-' });
  cleanups.push(() => rmSync(workspace, { recursive: true, force: true }));
  return workspace;
}

async function serve(workspace: string, extraArgs: readonly string[] = []): Promise<ServeProcess> {
  const server = await startServeProcess(workspace, extraArgs, ENV);
  // A failed assertion must not leave a server (or the engine it started) running.
  cleanups.push(() => {
    const pid = server.child.pid;
    if (pid === undefined || server.child.exitCode !== null || server.child.signalCode !== null) return;
    for (const engine of childPids(pid)) process.kill(engine, 'SIGKILL');
    server.child.kill('SIGKILL');
  });
  return server;
}

async function api<T>(
  server: ServeProcess,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; body: T }> {
  const response = await fetch(new URL(path, server.url), init);
  return { status: response.status, body: (await response.json()) as T };
}

async function getJob(server: ServeProcess, id: string): Promise<Job> {
  const { status, body } = await api<unknown>(server, `/api/jobs/${id}`);
  expect(status).toBe(200);
  return jobSchema.parse(body);
}

async function submit(server: ServeProcess): Promise<Job> {
  const { status, body } = await api<unknown>(server, '/api/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'train', config: RUN }),
  });
  expect(status).toBe(201);
  return jobSchema.parse(body);
}

function waitForEnd(server: ServeProcess, id: string): Promise<Job> {
  return waitFor(
    async () => {
      const job = await getJob(server, id);
      return ['done', 'failed', 'cancelled', 'interrupted'].includes(job.status) ? job : null;
    },
    { what: `job ${id} to end`, timeoutMs: WAIT_MS, pollMs: 200 },
  );
}

/** The job's whole log, paged as a client pages it. */
async function readLog(server: ServeProcess, id: string): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const { status, body } = await api<unknown>(server, `/api/jobs/${id}/log?from=${lines.length}`);
    expect(status).toBe(200);
    const page = jobLogSchema.parse(body);
    if (page.lines.length === 0) return lines;
    lines.push(...page.lines.map((line) => line.text));
  }
}

/**
 * Submits the run, waits for a state past the first one, then SIGKILLs the server: what the OOM killer does. Resolves
 * once the orphaned engine has exited too, with the job's id and the newest state on disk.
 */
async function killMidTraining(workspace: string): Promise<{ id: string; savedStep: number }> {
  const server = await serve(workspace);
  const { id } = await submit(server);
  await waitFor(() => Math.max(0, ...savedSteps(join(workspace, ...OUTPUT_DIR))) >= 2, {
    what: 'a training state at step 2 or later',
    timeoutMs: WAIT_MS,
    pollMs: 20,
  });
  const serverPid = server.child.pid as number;
  const [engine, ...others] = childPids(serverPid);
  expect(others).toEqual([]);
  server.child.kill('SIGKILL');
  expect(await server.exited).toBe('SIGKILL');

  // The engine is not killed with its parent; it must end by itself and not go on training behind a new server.
  await waitFor(() => !isRunning(engine as number), {
    what: `the orphaned engine ${engine} to exit`,
    timeoutMs: 60_000,
  });
  const steps = savedSteps(join(workspace, ...OUTPUT_DIR));
  const savedStep = Math.max(...steps);
  expect(savedStep).toBeGreaterThanOrEqual(2);
  expect(savedStep).toBeLessThan(TOTAL_STEPS); // killed in the middle, not after the run
  // The orphan did not finish the run behind the new server.
  expect(existsSync(join(workspace, ...ENGINE_LORA_FILE))).toBe(false);
  expect(existsSync(join(workspace, ...LORA_FILE))).toBe(false);
  return { id, savedStep };
}

/** The job went on from `savedStep`: its new log lines say so, and count on from there, not from step 1. */
function expectWentOnFrom(newLines: string[], savedStep: number): void {
  expect(newLines.filter((line) => line.startsWith('resuming from the state at step '))).toEqual([
    expect.stringMatching(new RegExp(`^resuming from the state at step ${savedStep}: `)),
  ]);
  const steps = newLines.filter((line) => /^step \d+\//.test(line));
  expect(steps[0]).toMatch(new RegExp(`^step ${savedStep + 1}/${TOTAL_STEPS} `));
  expect(steps.at(-1)).toMatch(new RegExp(`^step ${TOTAL_STEPS}/${TOTAL_STEPS} `));
  expect(steps).toHaveLength(TOTAL_STEPS - savedStep);
}

describe.skipIf(process.platform !== 'linux')('serve killed mid-training', () => {
  beforeAll(async () => {
    // The reference: the same job through a server that nobody kills.
    const workspace = await newWorkspace();
    const server = await serve(workspace);
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*\/$/); // `--port 0` took a free port and says which
    const job = await waitForEnd(server, (await submit(server)).id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('done');
    uninterrupted = await loraTensors(join(workspace, ...LORA_FILE));
    server.child.kill('SIGINT');
    expect(await server.exited).toBe(0);
  });

  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  afterAll(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  it('marks the job interrupted on restart; resumed, it goes on from its saved step to the same LoRA', async () => {
    const workspace = await newWorkspace();
    const { id, savedStep } = await killMidTraining(workspace);

    const server = await serve(workspace);
    expect(server.stdout()).toContain(`1 job(s) were running when the server last stopped; marked interrupted: ${id}`);
    expect((await getJob(server, id)).status).toBe('interrupted');
    const linesBefore = (await readLog(server, id)).length;

    const resumed = await api<unknown>(server, `/api/jobs/${id}/resume`, { method: 'POST' });
    expect(resumed.status).toBe(200);
    expect(jobSchema.parse(resumed.body).status).toBe('queued');
    const job = await waitForEnd(server, id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('done');
    expect(job.attempts).toBe(2);
    expect(job.progress).toMatchObject({ step: TOTAL_STEPS, total: TOTAL_STEPS });
    expect(job.outputs).toContain(LORA_FILE.join('/'));

    expectWentOnFrom((await readLog(server, id)).slice(linesBefore), savedStep);
    expectSameLora(await loraTensors(join(workspace, ...LORA_FILE)), uninterrupted, { rtol: RTOL, atol: ATOL });
  });

  it('`serve --resume-interrupted` queues the interrupted job again by itself, to the same LoRA', async () => {
    const workspace = await newWorkspace();
    const { id, savedStep } = await killMidTraining(workspace);

    const server = await serve(workspace, ['--resume-interrupted']);
    expect(server.stdout()).toContain(`marked interrupted: ${id}`);
    expect(server.stdout()).toContain(`queued again, to go on from their last saved state: ${id}`);
    const job = await waitForEnd(server, id);
    expect(job.error).toBeNull();
    expect(job.status).toBe('done');
    expect(job.attempts).toBe(2);

    const log = await readLog(server, id);
    const secondStart = log.map((line) => line.startsWith('training demo from ')).lastIndexOf(true);
    expectWentOnFrom(log.slice(secondStart), savedStep);
    expectSameLora(await loraTensors(join(workspace, ...LORA_FILE)), uninterrupted, { rtol: RTOL, atol: ATOL });
  });
});

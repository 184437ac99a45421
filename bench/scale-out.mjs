// The generation pool on this machine with the demo base model: covers per minute with one, two and three
// `lora-scripts worker` processes behind one Redis, against one render worker in this process (no queue), and the
// queue's own overhead per job — submit → start, from BullMQ's timestamps (job.timestamp → job.processedOn) that each
// worker sends back with its answer. Prints JSON; never run by the tests.
// `node_modules/.bin/tsc -p tsconfig.build.json && node bench/scale-out.mjs [covers=12] [size=128] [threads=1] [jobs=200]`
// threads: each worker's torch threads (OMP_NUM_THREADS), the same for the in-process baseline.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { QueueEvents } from 'bullmq';

const ROOT = resolve(import.meta.dirname, '..');
const { queueLocation, queueRenderWorker, QUEUE_PREFIX, RENDER_QUEUE } = await import(
  join(ROOT, 'dist/queue/index.js')
);
const { startRenderWorker } = await import(join(ROOT, 'dist/render-worker/index.js'));

const [covers = 12, size = 128, threads = 1, overheadJobs = 200] = process.argv.slice(2).map(Number);
const env = { ...process.env, OMP_NUM_THREADS: String(threads) };

// A workspace as a studio has it: the base model and a style's LoRA, found by every worker at workspace-relative paths.
const workspace = mkdtempSync(join(tmpdir(), 'scale-out-bench-'));
mkdirSync(join(workspace, 'models'));
mkdirSync(join(workspace, 'styles'));
copyFileSync(join(ROOT, 'models/demo-sd1.safetensors'), join(workspace, 'models/demo-sd1.safetensors'));
copyFileSync(
  join(ROOT, 'tests/fixtures/lora/styles/jiangnan_style.safetensors'),
  join(workspace, 'styles/jiangnan.safetensors'),
);

// What the cover service sends for one cover (src/covers/plan.ts: 20 steps of Euler a at CFG 7).
let seed = 0;
const cover = () => ({
  base_model: join(workspace, 'models/demo-sd1.safetensors'),
  prompt: 'three houses and a stone bridge, canal town scene, <lora:jiangnan:0.8>',
  negative_prompt: '',
  seeds: [++seed],
  steps: 20,
  cfg_scale: 7,
  width: size,
  height: size,
  sampler: 'Euler a',
  loras: [{ path: join(workspace, 'styles/jiangnan.safetensors'), weight: 0.8, name: 'jiangnan' }],
});
// The smallest render: what the overhead jobs are, so the answer comes back quickly.
const tiny = () => ({ ...cover(), steps: 1, width: 64, height: 64, loras: [], prompt: 'a bridge' });

const redis = await startRedis();
const location = queueLocation(redis.url);
const client = queueRenderWorker(location, { workspace });
/** Every answer on the events stream, as the workers sent it (worker name, its counts, the job's timestamps). */
const answers = [];
const events = new QueueEvents(RENDER_QUEUE, { connection: { url: redis.url }, prefix: QUEUE_PREFIX });
events.on('completed', ({ returnvalue }) => answers.push(returnvalue));
await events.waitUntilReady();

const results = { machine: `${cpus().length} CPU cores (${cpus()[0]?.model ?? '?'})`, size_px: size, steps: 20 };
results.torch_threads_per_worker = threads;
results.covers_per_run = covers;

// The baseline: the same covers on one render worker in this process, no queue.
{
  const local = startRenderWorker({ env });
  await local.render(cover()); // loads the base model and the LoRA
  const seconds = await timed(() => Promise.all(Array.from({ length: covers }, () => local.render(cover()))));
  results.in_process_covers_per_min = perMinute(covers, seconds);
  results.in_process_load_average_1m = round(loadavg()[0], 2);
  await local.close();
}

results.pool = [];
for (const count of [1, 2, 3]) {
  const workers = await startWorkers(count);
  await warmUp(count);
  const before = answers.length;
  const seconds = await timed(() => Promise.all(Array.from({ length: covers }, () => client.render(cover()))));
  await until(() => answers.length >= before + covers);
  const byWorker = {};
  for (const answer of answers.slice(before)) byWorker[answer.worker] = (byWorker[answer.worker] ?? 0) + 1;
  const run = {
    workers: count,
    seconds: round(seconds, 1),
    covers_per_min: perMinute(covers, seconds),
    by_worker: byWorker,
    // The machine's 1-minute load average after the timed covers: other work on a shared machine shows here.
    load_average_1m: round(loadavg()[0], 2),
  };
  if (count === 1) run.overhead = await measureOverhead();
  results.pool.push(run);
  await Promise.all(workers.map(stopProcess));
}
const first = results.pool[0].covers_per_min;
for (const run of results.pool) run.speedup_vs_one_worker = round(run.covers_per_min / first, 2);

await client.close();
await events.close();
await redis.stop();
rmSync(workspace, { recursive: true, force: true });
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);

/** Renders until every one of `count` workers has answered once (and so holds the base model and the LoRA). */
async function warmUp(count) {
  const warm = new Set();
  for (let round = 0; round < 10 && warm.size < count; round++) {
    const before = answers.length;
    await Promise.all(Array.from({ length: count }, () => client.render(cover())));
    await until(() => answers.length >= before + count);
    for (const answer of answers.slice(before)) warm.add(answer.worker);
  }
  if (warm.size < count) throw new Error(`only ${warm.size} of ${count} workers answered while warming up`);
}

/** One tiny render at a time on an idle worker: submit → start is then the queue's own delay, nothing waits ahead. */
async function measureOverhead() {
  for (let i = 0; i < 5; i++) await client.render(tiny());
  const before = answers.length;
  const started = performance.now();
  for (let i = 0; i < overheadJobs; i++) await client.render(tiny());
  const roundTripMs = (performance.now() - started) / overheadJobs;
  await until(() => answers.length >= before + overheadJobs);
  const delays = answers
    .slice(before)
    .map((answer) => answer.timing.started - answer.timing.submitted)
    .sort((a, b) => a - b);
  const at = (q) => delays[Math.min(delays.length - 1, Math.ceil(q * delays.length) - 1)];
  return {
    jobs: overheadJobs,
    submit_to_start_ms: { p50: at(0.5), p99: at(0.99), max: delays.at(-1) },
    tiny_render_round_trip_ms: round(roundTripMs, 1),
  };
}

async function startWorkers(count) {
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const child = spawn(
        process.execPath,
        [
          join(ROOT, 'bin/lora-scripts.mjs'),
          'worker',
          '--queue',
          redis.url,
          '--workspace',
          workspace,
          '--name',
          `w${i + 1}`,
        ],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let output = '';
      return new Promise((ready, fail) => {
        const look = (chunk) => {
          output += chunk;
          if (output.includes('takes jobs')) ready(child);
        };
        child.stdout.on('data', look);
        child.stderr.on('data', (chunk) => (output += chunk));
        child.once('exit', (code) => fail(new Error(`worker w${i + 1} exited (${code}): ${output}`)));
      });
    }),
  );
}

async function stopProcess(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function startRedis() {
  const port = await new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
  const child = spawn(
    '/usr/bin/redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const url = `redis://127.0.0.1:${port}`;
  const { Redis } = await import('ioredis');
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => 100 });
  probe.on('error', () => undefined);
  await until(async () => (await probe.ping().catch(() => null)) === 'PONG');
  probe.disconnect();
  return { url, stop: () => stopProcess(child) };
}

async function until(check) {
  for (let i = 0; i < 600; i++) {
    if (await check()) return;
    await new Promise((next) => setTimeout(next, 100));
  }
  throw new Error('gave up waiting');
}

async function timed(run) {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
}

function perMinute(count, seconds) {
  return round((count / seconds) * 60, 1);
}

function round(value, digits) {
  return Number(value.toFixed(digits));
}

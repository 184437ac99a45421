// The studio server under load while it trains: N server-sent-event watchers on the training job and a steady rate
// of status requests. Prints the status latency (p50/p99), the update delivery latency of the watchers (p50/p99) and
// the training step time with and without the load, alternating runs so that drift of the machine hits both alike.
// `npm run build && node bench/serve-load.mjs [--watchers 200] [--rate 50] [--steps 120] [--rounds 2]` — minutes of
// CPU; never run by the tests. The load generator runs on the same machine as the server and the engine, so on a
// small machine its own CPU use is part of the slowdown measured (a real studio's watchers are other machines).
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';

const ROOT = resolve(import.meta.dirname, '..');
const { writeSampleDataset } = await import(join(ROOT, 'dist/demo/index.js'));

const { values: args } = parseArgs({
  options: {
    watchers: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    steps: { type: 'string', default: '120' },
    rounds: { type: 'string', default: '2' },
    resolution: { type: 'string', default: '128' },
  },
});
const WATCHERS = Number(args.watchers);
const RATE = Number(args.rate);
const STEPS = Number(args.steps);
const ROUNDS = Number(args.rounds);

const workspace = mkdtempSync(join(tmpdir(), 'serve-load-'));
mkdirSync(join(workspace, 'models'));
copyFileSync(join(ROOT, 'models/demo-sd1.safetensors'), join(workspace, 'models/demo-sd1.safetensors'));
await writeSampleDataset({ dir: join(workspace, 'data/demo'), styles: ['jiangnan'], count: 16, seed: 3, sizePx: 128 });

const server = await startServerProcess(workspace);
try {
  const results = [];
  for (let round = 0; round < ROUNDS; round++) {
    for (const load of [false, true]) {
      const cpuBefore = processCpuSeconds(server.child.pid);
      const startedAt = Date.now();
      const run = await trainOnce(server.url, `${load ? 'loaded' : 'quiet'}-${round}`, load);
      const serverCpu = processCpuSeconds(server.child.pid) - cpuBefore;
      const wall = (Date.now() - startedAt) / 1000;
      results.push({
        round,
        load,
        ...run,
        server_cpu_s: round1(serverCpu),
        server_cpu_pct: round1((serverCpu / wall) * 100),
      });
    }
  }
  for (const result of results) console.log(JSON.stringify(result));
  const mean = (rows) => rows.reduce((sum, row) => sum + row.step_ms_median, 0) / rows.length;
  const quiet = mean(results.filter((row) => !row.load));
  const loaded = mean(results.filter((row) => row.load));
  console.log(
    JSON.stringify({
      watchers: WATCHERS,
      status_rate_per_s: RATE,
      server_cpu_pct_loaded: round1(
        mean2(
          results.filter((row) => row.load),
          'server_cpu_pct',
        ),
      ),
      step_ms_quiet: round1(quiet),
      step_ms_loaded: round1(loaded),
      slowdown_pct: round1((loaded / quiet - 1) * 100),
    }),
  );
} finally {
  server.child.kill('SIGTERM');
  await new Promise((done) => server.child.once('exit', done));
  rmSync(workspace, { recursive: true, force: true });
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux): the server's own cost, not the engine's. */
function processCpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function trainOnce(url, name, withLoad) {
  const config = {
    base_model: 'models/demo-sd1.safetensors',
    train_data_dir: 'data/demo',
    output_name: name,
    output_dir: `output/${name}`,
    resolution: Number(args.resolution),
    lora_rank: 4,
    batch_size: 2,
    max_train_steps: STEPS,
    seed: 1,
  };
  const job = await postJson(`${url}api/jobs`, { kind: 'train', config });
  const watchers = withLoad ? Array.from({ length: WATCHERS }, () => watch(url, job.id)) : [];
  const status = withLoad ? statusLoad(url, job.id) : null;
  const finished = await waitForEnd(url, job.id);
  status?.stop();
  const statusResult = status ? await status.result : null;
  const deliveries = (await Promise.all(watchers.map((watcher) => watcher.done))).flat();
  const steps = await progressUpdates(url, job.id);
  // The first steps carry the warm-up (allocation, kernel choice): the median of the rest is the pace.
  const stepMs = steps.slice(5).map((update) => update.step_ms);
  return {
    status: finished.status,
    steps: steps.length,
    step_ms_median: round1(percentile(stepMs, 50)),
    status_requests: statusResult?.requests.total ?? 0,
    status_errors: statusResult ? statusResult.errors + statusResult.non2xx : 0,
    status_p50_ms: statusResult?.latency.p50 ?? null,
    status_p99_ms: statusResult?.latency.p99 ?? null,
    watchers: watchers.length,
    updates_delivered: deliveries.length,
    delivery_p50_ms: deliveries.length ? round1(percentile(deliveries, 50)) : null,
    delivery_p99_ms: deliveries.length ? round1(percentile(deliveries, 99)) : null,
  };
}

/** One EventSource-like watcher: reads the stream to its end, noting how long after its writing each update came. */
function watch(url, id) {
  const latencies = [];
  const done = new Promise((finish, fail) => {
    const request = http.get(`${url}api/jobs/${id}/stream`, (response) => {
      if (response.statusCode !== 200) fail(new Error(`stream answered ${response.statusCode}`));
      let buffer = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const data = buffer
            .slice(0, end)
            .split('\n')
            .find((line) => line.startsWith('data: '));
          if (data) latencies.push(Date.now() - Date.parse(JSON.parse(data.slice(6)).at));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
      });
      response.on('end', () => finish(latencies));
    });
    request.on('error', fail);
  });
  return { done };
}

function statusLoad(url, id) {
  const instance = autocannon({ url: `${url}api/jobs/${id}`, connections: 10, overallRate: RATE, duration: 3600 });
  const result = new Promise((done) => instance.on('done', done));
  return { stop: () => instance.stop(), result };
}

async function waitForEnd(url, id) {
  for (;;) {
    const job = await getJson(`${url}api/jobs/${id}`);
    if (['done', 'failed', 'cancelled'].includes(job.status)) {
      if (job.status !== 'done') throw new Error(`job ${id} ${job.status}: ${JSON.stringify(job.error)}`);
      return job;
    }
    await new Promise((done) => setTimeout(done, 500));
  }
}

async function progressUpdates(url, id) {
  const progress = [];
  for (let after = 0; ; ) {
    const page = await getJson(`${url}api/jobs/${id}/events?after=${after}`);
    progress.push(...page.events.filter((event) => event.type === 'progress'));
    if (page.events.length === 0) return progress;
    after = page.next;
  }
}

function startServerProcess(dir) {
  const child = spawn('node', [join(ROOT, 'bin/lora-scripts.mjs'), 'serve', '--workspace', dir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((done, fail) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const url = /on (http:\/\/\S+?\/)(?:\s|$)/.exec(out)?.[1];
      if (url) done({ child, url });
    });
    child.once('exit', (code) => fail(new Error(`serve exited with ${code}: ${out}`)));
  });
}

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`POST ${url}: ${response.status} ${await response.text()}`);
  return response.json();
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function mean2(rows, key) {
  return rows.reduce((sum, row) => sum + row[key], 0) / rows.length;
}

function round1(value) {
  return Math.round(value * 10) / 10;
}

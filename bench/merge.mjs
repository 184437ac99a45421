// Times `lora-scripts merge` on an SD 1.5-sized checkpoint (random fp16, ~2 GB) with a rank-16 LoRA over every
// attention and feed-forward layer, against the usual Python way (safetensors load_file + torch + save_file) in the
// same run. Each path runs in its own child process under /usr/bin/time -v (wall time, peak RSS). Prints JSON.
// Usage: npm run build && node bench/merge.mjs [--work DIR] [--repeat N] [--write bench/RESULTS-merge.md]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { homedir, cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { readSafetensorsHeader, serializeSafetensors } from '../dist/lora/index.js';
import { diffusersUnetPath, inferUnetLayout } from '../dist/lora/unet-ldm-layout.js';
import { encodeFloats } from '../dist/lora/float-codec.js';

const repo = resolve(new URL('..', import.meta.url).pathname);
const arg = (name) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const work = resolve(arg('--work') ?? '/tmp/lora-scripts-merge-bench');
const python = process.env.LORA_SCRIPTS_PYTHON ?? join(homedir(), '.cache/lora-scripts/engine-venv/bin/python');
const RANK = 16;
const ALPHA = 8;
const WEIGHT = 0.8;
mkdirSync(work, { recursive: true });

// 1. The base model: SD 1.5 shapes, random fp16 weights, written by the engine once and reused.
const base = join(work, 'sd15-random-fp16.safetensors');
if (!existsSync(base))
  run('make-checkpoint', ['node', join(repo, 'bin/lora-scripts.mjs'), 'make-checkpoint', '--full-size', '--out', base]);

// 2. The LoRA: rank 16, kohya names (SD 1.x: diffusers paths), fp16, on every attention + ff Linear of the UNet.
const ATTENTION_FF =
  /\.transformer_blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.0\.proj|ff\.net\.2)\.weight$/;
const fd = openSync(base, 'r');
const header = readSafetensorsHeader(fd, base);
closeSync(fd);
const unetKeys = [...header.tensors.keys()].filter((k) => k.startsWith('model.diffusion_model.'));
const layout = inferUnetLayout(
  unetKeys.map((k) => k.slice('model.diffusion_model.'.length)),
  'an SD 1.x UNet',
);
const targets = unetKeys
  .filter((k) => ATTENTION_FF.test(k))
  .map((key) => {
    const ldm = key.slice('model.diffusion_model.'.length, -'.weight'.length);
    return {
      key,
      module: `lora_unet_${diffusersUnetPath(ldm, layout).replaceAll('.', '_')}`,
      shape: header.tensors.get(key).shape,
    };
  });
const lora = join(work, 'lora-r16.safetensors');
writeFileSync(
  lora,
  serializeSafetensors({
    metadata: { ss_network_dim: String(RANK), ss_network_alpha: `${ALPHA}.0` },
    tensors: loraTensors(targets),
  }),
);
const mapping = join(work, 'mapping.json');
writeFileSync(mapping, JSON.stringify(Object.fromEntries(targets.map((t) => [t.module, t.key]))));

// 3. Both paths, each in its own process, one after the other.
const loadBefore = round(loadavg()[0], 1);
const tsOut = join(work, 'merged-ts.safetensors');
const pyOut = join(work, 'merged-py.safetensors');
// Alternated and repeated (--repeat, default 2): on a shared machine the load changes within minutes; best of N.
const repeat = Number(arg('--repeat') ?? 2);
const tsRuns = [];
const pyRuns = [];
for (let i = 0; i < repeat; i++) {
  tsRuns.push(
    run('lora-scripts merge', [
      'node',
      join(repo, 'bin/lora-scripts.mjs'),
      'merge',
      base,
      `${lora}:${WEIGHT}`,
      '--out',
      tsOut,
    ]),
  );
  pyRuns.push(
    run('python safetensors+torch', [python, '-c', PYTHON_MERGE(), base, lora, mapping, String(WEIGHT), pyOut]),
  );
}
const best = (runs) => ({
  wallSeconds: Math.min(...runs.map((r) => r.wallSeconds)),
  peakRssMib: Math.max(...runs.map((r) => r.peakRssMib)),
  all: runs.map((r) => r.wallSeconds),
});
const ts = best(tsRuns);
const py = best(pyRuns);
// 4. The two outputs must agree: untouched tensors identical, changed ones within one fp16 step (torch sums the rank
//    in float32, we in float64, so a value near a rounding tie may land on the other side).
const check = JSON.parse(run('compare', [python, '-c', PYTHON_COMPARE(), tsOut, pyOut, mapping]).stdout);

const result = {
  machine: {
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memory_gib: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load_average_1min: loadBefore,
  },
  checkpoint: { bytes: statSync(base).size, tensors: header.tensors.size },
  lora: { rank: RANK, alpha: ALPHA, weight: WEIGHT, modules: targets.length, bytes: statSync(lora).size },
  lora_scripts_merge: { wall_s: ts.wallSeconds, wall_s_runs: ts.all, peak_rss_mib: ts.peakRssMib },
  python_safetensors_torch: { wall_s: py.wallSeconds, wall_s_runs: py.all, peak_rss_mib: py.peakRssMib },
  speedup: round(py.wallSeconds / ts.wallSeconds, 2),
  rss_ratio: round(py.peakRssMib / ts.peakRssMib, 1),
  outputs_agree: check,
};
console.log(JSON.stringify(result, null, 2));
const summary = `best of ${repeat}: lora-scripts merge: ${ts.wallSeconds} s, peak RSS ${ts.peakRssMib} MiB; python (load_file + torch + save_file): ${py.wallSeconds} s, peak RSS ${py.peakRssMib} MiB`;
console.error(summary);
const report = arg('--write');
if (report) writeFileSync(resolve(report), markdown(result, summary));
for (const file of [tsOut, pyOut]) rmSync(file, { force: true });

function loraTensors(modules) {
  let state = 12345;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const random = (n, scale) => Float32Array.from({ length: n }, () => (next() - 0.5) * scale);
  const tensors = new Map();
  for (const {
    module,
    shape: [out, input],
  } of modules) {
    tensors.set(`${module}.lora_down.weight`, {
      dtype: 'F16',
      shape: [RANK, input],
      data: encodeFloats('F16', random(RANK * input, 0.1)),
    });
    tensors.set(`${module}.lora_up.weight`, {
      dtype: 'F16',
      shape: [out, RANK],
      data: encodeFloats('F16', random(out * RANK, 0.1)),
    });
    tensors.set(`${module}.alpha`, { dtype: 'F32', shape: [], data: new Uint8Array(Float32Array.of(ALPHA).buffer) });
  }
  return tensors;
}

/** Runs one command under /usr/bin/time -v; returns its stdout, wall seconds and peak RSS. */
function run(label, [command, ...args]) {
  const result = spawnSync('/usr/bin/time', ['-v', command, ...args], { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (result.status !== 0) throw new Error(`${label} failed (exit ${result.status}):\n${result.stderr.slice(-3000)}`);
  const field = (name) => new RegExp(`${name}: (.+)`).exec(result.stderr)?.[1] ?? '';
  // h:mm:ss or m:ss.ss
  const wallSeconds = round(
    field('Elapsed \\(wall clock\\) time \\(h:mm:ss or m:ss\\)')
      .split(':')
      .reduce((total, part) => total * 60 + Number(part), 0),
    1,
  );
  const peakRssMib = Math.round(Number(field('Maximum resident set size \\(kbytes\\)')) / 1024);
  process.stderr.write(`${label}: ${wallSeconds} s, peak RSS ${peakRssMib} MiB\n`);
  return { stdout: result.stdout, wallSeconds, peakRssMib };
}

function round(x, digits) {
  return Math.round(x * 10 ** digits) / 10 ** digits;
}

// What a user without lora-scripts writes: load everything, add the deltas in fp32, cast back, save everything.
function PYTHON_MERGE() {
  return `
import json, sys, torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
base_path, lora_path, mapping_path, weight, out = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5]
torch.set_num_threads(${cpus().length})
with safe_open(base_path, "pt") as f:
    metadata = f.metadata() or {}
state = load_file(base_path)
lora = load_file(lora_path)
for module, key in json.load(open(mapping_path)).items():
    down = lora[module + ".lora_down.weight"].float()
    up = lora[module + ".lora_up.weight"].float()
    alpha = lora[module + ".alpha"].item()
    w = state[key]
    state[key] = (w.float() + weight * alpha / down.shape[0] * (up @ down)).to(w.dtype)
save_file(state, out, metadata=metadata)
`;
}

function PYTHON_COMPARE() {
  return `
import json, sys, torch
from safetensors import safe_open
a_path, b_path, mapping_path = sys.argv[1:4]
changed = set(json.load(open(mapping_path)).values())
identical = differing_untouched = elements_differing = changed_elements = 0
max_abs = 0.0
max_ulp = 0

def ordered(t):
    # fp16 bits → integers in value order (sign-magnitude → two's complement), so ±0 are 0 apart and a
    # difference is a count of representable steps.
    bits = t.view(torch.int16).int()
    return torch.where(bits < 0, -(bits & 0x7FFF), bits)

with safe_open(a_path, "pt") as a, safe_open(b_path, "pt") as b:
    assert set(a.keys()) == set(b.keys())
    for key in a.keys():
        x, y = a.get_tensor(key), b.get_tensor(key)
        assert x.dtype == y.dtype and x.shape == y.shape, key
        if torch.equal(x, y):
            identical += 1
            continue
        if key not in changed:
            differing_untouched += 1
            continue
        max_abs = max(max_abs, (x.float() - y.float()).abs().max().item())
        max_ulp = max(max_ulp, (ordered(x) - ordered(y)).abs().max().item())
        elements_differing += (x != y).sum().item()
        changed_elements += x.numel()
print(json.dumps({"tensors_bit_identical": identical, "untouched_tensors_differing": differing_untouched, "changed_max_abs_diff": max_abs, "changed_max_fp16_steps_apart": max_ulp, "changed_elements_differing": elements_differing, "changed_elements": changed_elements}))
`;
}

function markdown(r, summary) {
  return `# merge benchmark

\`node bench/merge.mjs --write bench/RESULTS-merge.md\` (after \`npm run build\`). A random-weight SD 1.5-shaped
checkpoint (fp16, ${(r.checkpoint.bytes / 2 ** 30).toFixed(2)} GiB, ${r.checkpoint.tensors} tensors, from \`lora-scripts make-checkpoint --full-size\`)
and a rank-${r.lora.rank} fp16 LoRA on all ${r.lora.modules} attention + feed-forward layers of the UNet, merged at weight ${r.lora.weight}.
Each path runs in its own process under \`/usr/bin/time -v\`; the Python path is the usual script
(\`safetensors.torch.load_file\` → torch fp32 add → cast → \`save_file\`, engine venv, torch on the CPU).

${summary}

| path | wall, best (s) | every run (s) | peak RSS (MiB) |
| --- | ---: | ---: | ---: |
| \`lora-scripts merge\` (streamed, TypeScript) | ${r.lora_scripts_merge.wall_s} | ${r.lora_scripts_merge.wall_s_runs.join(', ')} | ${r.lora_scripts_merge.peak_rss_mib} |
| Python: load_file + torch + save_file | ${r.python_safetensors_torch.wall_s} | ${r.python_safetensors_torch.wall_s_runs.join(', ')} | ${r.python_safetensors_torch.peak_rss_mib} |

Outputs compared tensor by tensor: ${JSON.stringify(r.outputs_agree)}.

Machine: ${r.machine.cpus} CPU cores (${r.machine.cpu}), ${r.machine.memory_gib} GiB RAM, Node ${r.machine.node}; 1-minute load
average ${r.machine.load_average_1min} when the timed runs started (other jobs may share the cores: compare the two paths of one
run, not runs on different days). \`lora-scripts merge\` also fsyncs its output before the rename; \`save_file\` does not.
Untouched tensors are copied byte for byte; changed ones are summed over the rank in float64 (torch: float32
matmul), which is why a few values land one fp16 step apart.

\`\`\`json
${JSON.stringify(r, null, 2)}
\`\`\`
`;
}

// Times `lora-scripts inspect` and `convert` on a large LoRA file and reports their peak memory: both stream the
// file, so the resident size must stay flat however big the file is. Prints JSON.
// Usage: node bench/lora-tools-large.mjs [GiB per weight tensor, default 1]
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(new URL('..', import.meta.url).pathname);
const gib = Number(process.argv[2] ?? 1);
const work = mkdtempSync(join(tmpdir(), 'lora-tools-bench-'));
const path = join(work, 'large.safetensors');

// One kohya module with F16 down [64, n] and up [n, 64] weights of `gib` GiB each (and an F32 alpha).
function writeLargeLora() {
  const rank = 64;
  const width = Math.round((gib * 2 ** 30) / (rank * 2));
  const size = rank * width * 2;
  const name = 'lora_unet_mid_block_attentions_0_proj_in';
  const header = JSON.stringify({
    [`${name}.alpha`]: { dtype: 'F32', shape: [], data_offsets: [0, 4] },
    [`${name}.lora_down.weight`]: { dtype: 'F16', shape: [rank, width], data_offsets: [4, 4 + size] },
    [`${name}.lora_up.weight`]: { dtype: 'F16', shape: [width, rank], data_offsets: [4 + size, 4 + 2 * size] },
  });
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.concat([prefix, Buffer.from(header), Buffer.from([0, 0, 0x80, 0x40])]));
  const chunk = Buffer.alloc(2 ** 24, 0x3c);
  for (let written = 0; written < 2 * size; written += chunk.length)
    writeSync(fd, chunk, 0, Math.min(chunk.length, 2 * size - written));
  closeSync(fd);
}

function measure(args) {
  const start = performance.now();
  const run = spawnSync('/usr/bin/time', ['-f', '%M', 'node', join(repo, 'bin', 'lora-scripts.mjs'), ...args], {
    encoding: 'utf8',
  });
  const seconds = (performance.now() - start) / 1000;
  if (run.status !== 0) throw new Error(run.stderr);
  return {
    seconds: Math.round(seconds * 100) / 100,
    peakRssMiB: Math.round(Number(run.stderr.trim().split('\n').at(-1)) / 1024),
  };
}

try {
  writeLargeLora();
  const fileMiB = Math.round(statSync(path).size / 2 ** 20);
  const inspect = measure(['inspect', path, '--json']);
  const toDiffusers = measure([
    'convert',
    path,
    '--to',
    'diffusers',
    '--family',
    'sd1',
    '--out',
    join(work, 'diffusers.safetensors'),
  ]);
  const toKohya = measure([
    'convert',
    join(work, 'diffusers.safetensors'),
    '--to',
    'kohya',
    '--family',
    'sd1',
    '--out',
    join(work, 'back.safetensors'),
  ]);
  console.log(JSON.stringify({ fileMiB, inspect, toDiffusers, toKohya }));
} finally {
  rmSync(work, { recursive: true, force: true });
}

// Times `lora-scripts inspect` on a large file and reports its peak memory: hashing streams the file, so the
// resident size must stay flat however big the file is. Prints JSON. Usage: node bench/inspect-large.mjs [GiB]
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(new URL('..', import.meta.url).pathname);
const gib = Number(process.argv[2] ?? 1);
const work = mkdtempSync(join(tmpdir(), 'lora-inspect-bench-'));
const path = join(work, 'large.safetensors');

// One kohya module whose down weight is `gib` GiB of U8: a valid header over a big data section.
function writeLargeFile() {
  const sizeBytes = Math.round(gib * 2 ** 30);
  const header = JSON.stringify({
    'lora_unet_mid_block_attentions_0_proj_in.alpha': { dtype: 'F32', shape: [], data_offsets: [0, 4] },
    'lora_unet_mid_block_attentions_0_proj_in.lora_down.weight': { dtype: 'U8', shape: [sizeBytes], data_offsets: [4, 4 + sizeBytes] },
  });
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.length));
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.concat([prefix, Buffer.from(header), Buffer.from([0, 0, 0x80, 0x40])]));
  const chunk = Buffer.alloc(2 ** 24, 7);
  for (let written = 0; written < sizeBytes; written += chunk.length) writeSync(fd, chunk, 0, Math.min(chunk.length, sizeBytes - written));
  closeSync(fd);
  return 8 + header.length + 4 + sizeBytes;
}

const fileBytes = writeLargeFile();
const start = performance.now();
const run = spawnSync('/usr/bin/time', ['-f', '%M', 'node', join(repo, 'bin', 'lora-scripts.mjs'), 'inspect', path, '--json'], { encoding: 'utf8' });
const seconds = (performance.now() - start) / 1000;
rmSync(work, { recursive: true, force: true });
if (run.status !== 0) throw new Error(run.stderr);
const peakRssMiB = Number(run.stderr.trim().split('\n').at(-1)) / 1024;
console.log(JSON.stringify({ fileMiB: Math.round(fileBytes / 2 ** 20), seconds: Math.round(seconds * 100) / 100, mibPerSecond: Math.round(fileBytes / 2 ** 20 / seconds), peakRssMiB: Math.round(peakRssMiB) }));

// `inspect` and `convert` through the built CLI: what reaches stdout and stderr, and the exit codes.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';

const FIXTURES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora');
const cli = (...args: string[]) =>
  spawnSync('node', [join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs'), ...args], { encoding: 'utf8' });

describe('lora-scripts inspect', () => {
  it('prints the report as JSON with --json', () => {
    const result = cli('inspect', join(FIXTURES, 'kohya-sdxl-tiny.safetensors'), '--json');
    expect(result.status, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as {
      format: unknown;
      family: { name: string };
      layers: unknown;
      hashes: { webuiLoraHash: string };
    };
    expect([report.format, report.family.name, report.layers]).toEqual([
      { name: 'kohya', variant: 'LoCon', isConvertible: true },
      'sdxl',
      { total: 397, unet: 367, textEncoder: 12, textEncoder2: 18 },
    ]);
    expect(report.hashes.webuiLoraHash).toMatch(/^[0-9a-f]{12}$/);
  });

  it('lists every layer with --layers, and names a damaged file in one error line', () => {
    const layers = cli('inspect', join(FIXTURES, 'peft-sd1-tiny.safetensors'), '--layers', '--no-hash');
    expect(layers.stdout).toMatch(
      /\nunet\.down_blocks\.0\.attentions\.0\.transformer_blocks\.0\.attn1\.to_q +unet +lora +2 +8 +F16\n/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'cli-inspect-'));
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, readFileSync(join(FIXTURES, 'kohya-sd1-tiny.safetensors')).subarray(0, 5000));
    const damaged = cli('inspect', cut);
    expect(damaged.status).toBe(1);
    expect(damaged.stderr).toMatch(
      new RegExp(
        `^error: ${cut}: header claims \\d+ bytes but the file is only 5000 bytes\\n\\nhint: the file is damaged or not a safetensors file; export or download it again\\n$`,
      ),
    );
  });
});

describe('lora-scripts convert', () => {
  it('prints the output path on stdout and what it did on stderr', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cli-convert-')), 'd.safetensors');
    const result = cli('convert', join(FIXTURES, 'kohya-sd1-tiny.safetensors'), '--to', 'diffusers', '--out', out);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${out}\n`);
    expect(result.stderr).toMatch(
      /^kohya LoCon → diffusers: 289 layers \(sd1: 1×1-conv proj_in \(SD 1\.x UNet\)\), 578 tensors, A1111 hash [0-9a-f]{12}\n$/,
    );
  });

  it('answers a wrong --to, a missing --out and a LoRA of an unknown layout with one error line each', () => {
    const input = join(FIXTURES, 'kohya-sd1-tiny.safetensors');
    expect([
      cli('convert', input, '--to', 'comfy', '--out', 'x').status,
      cli('convert', input, '--to', 'comfy', '--out', 'x').stderr.split('\n')[0],
    ]).toEqual([2, 'error: --to: must be one of `kohya`, `diffusers`, got `"comfy"`']);
    expect(cli('convert', input, '--to', 'kohya').stderr.split('\n')[0]).toBe(
      'error: convert: `--out <file>` is required',
    );
    const dir = mkdtempSync(join(tmpdir(), 'cli-convert-'));
    const sd3 = join(dir, 'sd3.safetensors');
    const header = JSON.stringify({
      'transformer.joint_blocks.0.x_block.attn.qkv.lora_A.weight': {
        dtype: 'F16',
        shape: [1, 1],
        data_offsets: [0, 2],
      },
    });
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(sd3, Buffer.concat([prefix, Buffer.from(header), Buffer.alloc(2)]));
    const result = cli('convert', sd3, '--to', 'kohya', '--out', join(dir, 'o.safetensors'));
    expect(result.status).toBe(1);
    expect(result.stderr).toBe(
      `error: ${sd3}: is not a LoRA file this tool knows (key \`transformer.joint_blocks.0.x_block.attn.qkv.lora_A.weight\`); only SD 1.x/2.x/SDXL and Flux.1 LoRAs with kohya or diffusers keys can be converted\n\nhint: \`lora-scripts inspect\` shows what the file holds\n`,
    );
  });
});

// inspect on real files: the sd-scripts-style fixtures, our engine's diffusers file and our own kohya file, with
// hashes checked against node's sha256 of the same bytes; damaged files give the parser's one-line errors.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectLoraFile } from './inspect-file.js';
import { formatInspectReport } from './inspect-text.js';
import { convertPeftFileToKohya } from './to-kohya.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-inspect-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Expected {
  family: string;
  sshs_model_hash: string;
  modules: Record<string, { component: string; rank: number; alpha: number }>;
}

describe('inspectLoraFile on sd-scripts-style files', () => {
  it.each(['sd1', 'sdxl'])('reports the %s fixture as make_fixtures.py wrote it', (family) => {
    const path = fixture(`kohya-${family}-tiny.safetensors`);
    const expected = JSON.parse(readFileSync(fixture(`kohya-${family}-tiny.expected.json`), 'utf8')) as Expected;
    const report = inspectLoraFile(path);
    const modules = Object.entries(expected.modules);
    const count = (component: string) => modules.filter(([, m]) => m.component === component).length;
    expect(report.format).toEqual({ name: 'kohya', variant: 'LoCon', isConvertible: true });
    expect(report.family.name).toBe(family);
    expect(report.layers).toEqual({
      total: modules.length,
      unet: count('unet'),
      textEncoder: count('text_encoder'),
      textEncoder2: count('text_encoder_2'),
    });
    expect(Object.fromEntries(report.modules.map((m) => [m.name, { rank: m.rank, alpha: m.alpha }]))).toEqual(
      Object.fromEntries(modules.map(([name, m]) => [name, { rank: m.rank, alpha: m.alpha }])),
    );
    expect(report.ranks.map((r) => r.value)).toEqual([4, 2]);
    const bytes = readFileSync(path);
    const dataStart = 8 + Number(bytes.readBigUInt64LE(0));
    expect(report.hashes).toMatchObject({
      fileSha256: sha256(bytes),
      addnetSha256: sha256(bytes.subarray(dataStart)),
      legacyHash: sha256(bytes.subarray(0x100000, 0x110000)).slice(0, 8),
      storedModelHash: expected.sshs_model_hash,
      storedModelHashMatches: true,
      webuiLoraHash: expected.sshs_model_hash.slice(0, 12),
      webuiModelHash: sha256(bytes).slice(0, 10),
    });
    expect(report.training).toMatchObject({
      outputName: `tiny_${family}`,
      steps: 500,
      epoch: 10,
      network: { module: 'networks.lora', dim: '4', alpha: '2.0', args: { conv_dim: '2', conv_alpha: '1' } },
      topTags: [
        { tag: '1girl', count: 5 },
        { tag: 'smile', count: 3 },
        { tag: 'outdoors', count: 1 },
      ],
    });
    expect(report.problems).toEqual([]);
  });

  it('hashes across the 1 MiB chunk and legacy-window boundaries like a whole-buffer sha256', () => {
    const bytes = readFileSync(fixture('kohya-sdxl-tiny.safetensors'));
    expect(bytes.length).toBeGreaterThan(0x110000 / 2);
    // Pad the data section past 1.1 MiB with one extra tensor so both the chunk edge and the window are crossed.
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString()) as Record<
      string,
      { data_offsets?: number[] }
    >;
    const dataLength = bytes.length - 8 - Number(bytes.readBigUInt64LE(0));
    const extra = 0x120000;
    header['zz.lora_down.weight'] = {
      dtype: 'U8',
      shape: [extra],
      data_offsets: [dataLength, dataLength + extra],
    } as never;
    const json = Buffer.from(JSON.stringify(header));
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(json.length));
    const padded = Buffer.concat([
      prefix,
      json,
      bytes.subarray(8 + Number(bytes.readBigUInt64LE(0))),
      Buffer.alloc(extra, 7),
    ]);
    const path = join(dir, 'big.safetensors');
    writeFileSync(path, padded);
    const report = inspectLoraFile(path);
    expect(report.hashes).toMatchObject({
      fileSha256: sha256(padded),
      addnetSha256: sha256(padded.subarray(8 + json.length)),
      legacyHash: sha256(padded.subarray(0x100000, 0x110000)).slice(0, 8),
    });
    expect(report.hashes?.storedModelHashMatches).toBe(false);
  });
});

describe('inspectLoraFile on our own files', () => {
  it("reads the engine's diffusers file and the kohya file made from it, with our metadata", async () => {
    const engineFile = fixture('peft-sd1-tiny.safetensors');
    const diffusers = inspectLoraFile(engineFile);
    expect([diffusers.format.name, diffusers.format.variant, diffusers.family.name]).toEqual([
      'diffusers',
      'peft',
      'sd1-or-sd2',
    ]);
    // The counts of peft-sd1-tiny.expected.json, which PEFT's own modules reported when make_fixtures.py ran.
    expect(diffusers.layers).toEqual({ total: 136, unet: 128, textEncoder: 8, textEncoder2: 0 });
    expect(diffusers.ranks).toEqual([
      { value: 4, count: 127 },
      { value: 2, count: 9 },
    ]);
    expect(diffusers.alphas).toEqual([
      { value: 8, count: 127 },
      { value: 1, count: 8 },
      { value: 3, count: 1 },
    ]);

    const kohyaPath = join(dir, 'ours.safetensors');
    await convertPeftFileToKohya({
      input: engineFile,
      output: kohyaPath,
      family: 'sd1',
      metadata: { ss_output_name: 'ours', ss_base_model_version: 'sd_v1', 'lora_scripts.version': '0.1.0' },
    });
    const kohya = inspectLoraFile(kohyaPath);
    expect([kohya.format.name, kohya.family.name, kohya.family.basis]).toEqual([
      'kohya',
      'sd1',
      'metadata `ss_base_model_version`',
    ]);
    expect([kohya.ranks, kohya.alphas]).toEqual([diffusers.ranks, diffusers.alphas]);
    expect(kohya.loraScripts).toEqual({ 'lora_scripts.version': '0.1.0' });
    expect(kohya.hashes?.storedModelHashMatches).toBe(true);
    const text = formatInspectReport(kohya, { showLayers: true });
    expect(text).toContain(
      '\nformat       kohya LoRA\nfamily       SD 1.x (metadata `ss_base_model_version`)\nlayers       136 (unet 128, text encoder 8)\nrank         4 ×127, 2 ×9\nalpha        8 ×127, 1 ×8, 3 ×1\n',
    );
    expect(text).toContain(
      `hash         ${kohya.hashes!.addnetSha256.slice(0, 12)} (A1111 LoRA hash; sshs_model_hash, matches the data)`,
    );
    expect(text).toMatch(
      /\nlora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q +unet +lora +2 +8 +F16\n/,
    );
  });

  it('skips hashing when asked', () => {
    expect(inspectLoraFile(fixture('kohya-sd1-tiny.safetensors'), { shouldHash: false }).hashes).toBeNull();
  });
});

describe('inspectLoraFile on damaged files', () => {
  const damaged = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return () => inspectLoraFile(path);
  };

  it('names a truncated file, a header longer than the file, and a missing file', () => {
    const whole = readFileSync(fixture('kohya-sd1-tiny.safetensors'));
    expect(damaged('cut.safetensors', whole.subarray(0, whole.length - 10))).toThrow(
      /^tensor `.+` ends at byte \d+ but the file's data is \d+ bytes$/,
    );
    expect(damaged('short.safetensors', whole.subarray(0, 100))).toThrow(
      /^header claims \d+ bytes but the file is only 100 bytes$/,
    );
    expect(() => inspectLoraFile(join(dir, 'missing.safetensors'))).toThrow('no such file');
    expect(() => inspectLoraFile(dir)).toThrow('is a folder, not a .safetensors file');
  });
});

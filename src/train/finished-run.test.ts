// Which final files a run cut off in its ending still lacks, read from real files in a temp folder.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensorsAtomic, type Tensor } from '../lora/index.js';
import { staleFinalFiles, type FinalFiles } from './finished-run.js';
import { readLoggedFindings } from './run-monitor.js';

function outputDir(): { dir: string; files: FinalFiles } {
  const dir = mkdtempSync(join(tmpdir(), 'finished-run-'));
  const files = {
    diffusersFile: join(dir, 'pytorch_lora_weights.safetensors'),
    loraFile: join(dir, 'x.safetensors'),
    runRecord: join(dir, 'lora_scripts.json'),
  };
  return { dir, files };
}

const tensor: Tensor = { dtype: 'F32', shape: [1], data: new Uint8Array(4) };
const loraAt = (path: string, steps: number) =>
  writeSafetensorsAtomic(path, { metadata: { ss_steps: String(steps) }, tensors: new Map([['a', tensor]]) });
const recordAt = (path: string, steps: number, diagnostics?: unknown[]) =>
  writeFileSync(path, JSON.stringify({ training: { steps }, diagnostics }));

describe('staleFinalFiles', () => {
  it('lists every file when the run was killed right after its final state', () => {
    const { files } = outputDir();
    expect(staleFinalFiles(files, 8)).toEqual([files.diffusersFile, files.loraFile, files.runRecord]);
  });

  it('finds the record that lacks its diagnostics (killed between the two writes)', async () => {
    const { files } = outputDir();
    writeFileSync(files.diffusersFile, 'x');
    await loraAt(files.loraFile, 8);
    recordAt(files.runRecord, 8);
    expect(staleFinalFiles(files, 8)).toEqual([files.runRecord]);
    recordAt(files.runRecord, 8, []);
    expect(staleFinalFiles(files, 8)).toEqual([]);
  });

  it('takes files of an earlier end of the run (then extended with more epochs) as stale', async () => {
    const { files } = outputDir();
    writeFileSync(files.diffusersFile, 'x');
    await loraAt(files.loraFile, 8);
    recordAt(files.runRecord, 8, []);
    expect(staleFinalFiles(files, 10)).toEqual([files.loraFile, files.runRecord]);
  });

  it('takes a cut-short WebUI file as stale', () => {
    const { files } = outputDir();
    writeFileSync(files.loraFile, Buffer.from([1, 2, 3]));
    expect(staleFinalFiles(files, 8)).toContain(files.loraFile);
  });
});

describe('readLoggedFindings', () => {
  it('reads what the run found before it was stopped, the first of each code', () => {
    const { dir } = outputDir();
    mkdirSync(join(dir, 'logs'));
    const finding = (code: string, step: number) => ({ code, step, epoch: 1, message: 'm', hint: 'h', data: {} });
    const lines = [finding('divergence', 5), finding('overfitting', 20), finding('divergence', 9)];
    const log = lines.map((f) => `${JSON.stringify({ type: 'diagnostic', ...f })}\n`).join('');
    writeFileSync(join(dir, 'logs', 'diagnostics.jsonl'), log);
    expect(readLoggedFindings(dir)).toEqual([finding('divergence', 5), finding('overfitting', 20)]);
    expect(readLoggedFindings(join(dir, 'none'))).toEqual([]);
  });
});

// `lora-scripts recommend` through the built CLI: real pictures measured with sharp, the device from the engine.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';

describe('lora-scripts recommend', () => {
  it('recommends from flat-colour pictures and marks what `auto` applies', async () => {
    const root = mkdtempSync(join(tmpdir(), 'recommend-'));
    for (let i = 0; i < 12; i++) {
      await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 20 * i, g: 120, b: 200 } } })
        .png()
        .toFile(join(root, `flat_${i}.png`));
    }
    writeFileSync(
      join(root, 'c.yaml'),
      `train_data_dir: ${root}\nbase_model: ${join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors')}\nlora_rank: auto\nepochs: auto\n`,
    );
    const result = spawnSync(
      'node',
      [join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs'), 'recommend', '--config', join(root, 'c.yaml')],
      { encoding: 'utf8', env: { ...process.env, CI: '1' } },
    );
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines.map((line) => line.split(':')[0])).toEqual([
      'lora_rank',
      'epochs',
      'repeats',
      'batch_size',
      'learning_rate',
    ]);
    expect(lines[0]).toMatch(/^lora_rank: 4 +\(auto: applied\) simple motifs \(detail 0\.00 < 0\.06\)/);
    expect(lines[1]).toMatch(/^epochs: 20 +\(auto: applied\) 12 pictures per epoch/);
    expect(lines[2]).toMatch(/^repeats: 2 +\(advice\) only 12 pictures: put them in a folder named `2_name`/);
    expect(lines[3]).toMatch(/^batch_size: \d+ +\(not `auto`: kept\)/);
  }, 120_000);
});

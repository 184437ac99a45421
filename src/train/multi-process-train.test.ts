// `train --devices cpu:2` end to end through the CLI on the shipped demo model: two engine processes under
// accelerate's launcher train one LoRA, and the run says its global batch and learning-rate rule.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';

const CLI = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
const DEMO_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');

function cli(args: string[], cwd: string) {
  return spawnSync('node', [CLI, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
}

describe('train with devices: cpu:2', () => {
  it('trains one LoRA in two processes and reports the global batch', { timeout: 600_000 }, () => {
    const root = mkdtempSync(join(tmpdir(), 'lora-scripts-ddp-'));
    expect(cli(['demo-data', '--count', '2', '--out', join(root, 'data')], root).status).toBe(0);
    const out = join(root, 'out');
    const trained = cli(
      [
        'train',
        '--train-data-dir',
        join(root, 'data'),
        '--base-model',
        DEMO_MODEL,
        '--resolution',
        '64',
        '--lora-rank',
        '4',
        '--batch-size',
        '1',
        '--epochs',
        '1',
        '--devices',
        'cpu:2',
        '--output-dir',
        out,
        '--output-name',
        'two',
      ],
      root,
    );
    expect(trained.status, trained.stderr).toBe(0);
    expect(trained.stderr).toContain(
      '2 processes: each step learns from 2 pictures (batch_size 1 × 2 processes × gradient_accumulation_steps 1); learning_rate 0.0001 is used as given',
    );
    expect(existsSync(join(out, 'two.safetensors'))).toBe(true);
    const record = JSON.parse(readFileSync(join(out, 'lora_scripts.json'), 'utf8'));
    expect(record.config.devices).toBe('cpu:2');
    expect(record.training.steps).toBe(1);
    // The first process alone writes: one TensorBoard event file.
    expect(readdirSync(join(out, 'logs')).filter((f) => f.startsWith('events.out.tfevents'))).toHaveLength(1);
  });
});

// What may change between a stopped run and its resume, and how a change is named.
import { describe, expect, it } from 'vitest';
import { resolveConfig, validateConfig } from '../config/index.js';
import { fingerprintChanges, runFingerprint } from './run-fingerprint.js';

function config(yaml: string, dataDir = 'data') {
  const parsed = validateConfig({
    file: 'test.yaml',
    text: `train_data_dir: ${dataDir}\nbase_model: base.safetensors\n${yaml}`,
  });
  return resolveConfig(parsed, { cwd: '/work', isFile: () => false });
}

const hashes = { dataset: 'd1', baseModel: 'b1', initLora: null };

describe('runFingerprint / fingerprintChanges', () => {
  it('allows a longer run, other output and sample settings, and moved folders', () => {
    const saved = runFingerprint(config('epochs: 10\nsave_steps: 100'), hashes);
    const now = runFingerprint(
      config('epochs: 30\nsave_steps: 50\noutput_dir: elsewhere\nsample_prompts: [a]\nresume: latest', 'moved'),
      hashes,
    );
    expect(fingerprintChanges(saved, now)).toEqual([]);
  });

  it('names every setting that changes the numbers, and changed files by what they are', () => {
    const saved = runFingerprint(config('lora_rank: 8\nbatch_size: 2'), hashes);
    const now = runFingerprint(config('lora_rank: 4\nbatch_size: 2\nlearning_rate: 2e-4'), {
      dataset: 'd2',
      baseModel: 'b2',
      initLora: 'p',
    });
    expect(fingerprintChanges(saved, now)).toEqual([
      'the dataset (images, captions or repeats)',
      '`base_model`',
      '`init_lora`',
      '`lora_rank` 8 → 4',
      '`lora_alpha` 16 → 8',
      '`learning_rate` 0.0001 → 0.0002',
      '`text_encoder_lr` 0.0001 → 0.0002',
      '`text_encoder_2_lr` 0.0001 → 0.0002',
    ]);
  });

  it("names SDXL's second text-encoder rate: a frozen encoder (0) has no LoRA layers, so its state cannot go on", () => {
    const saved = runFingerprint(config('train_text_encoder: true\ntext_encoder_lr: 1e-5'), hashes);
    const now = runFingerprint(config('train_text_encoder: true\ntext_encoder_lr: 1e-5\ntext_encoder_2_lr: 0'), hashes);
    expect(fingerprintChanges(saved, now)).toEqual(['`text_encoder_2_lr` 0.00001 → 0']);
  });

  it('compares the global batch, so a state resumes on another number of processes that keeps it', () => {
    const twoProcesses = runFingerprint(config('batch_size: 1\ndevices: cpu:2'), { ...hashes, processes: 2 });
    const oneProcess = runFingerprint(config('batch_size: 2'), hashes);
    expect(fingerprintChanges(twoProcesses, oneProcess)).toEqual([]);
    expect(fingerprintChanges(twoProcesses, runFingerprint(config('batch_size: 1'), hashes))).toEqual([
      '`batch_size` 2 → 1',
    ]);
  });

  it('ignores a key the saved state does not know (a newer tool version added it)', () => {
    const saved = runFingerprint(config(''), hashes);
    delete saved.config.noise_offset;
    expect(fingerprintChanges(saved, runFingerprint(config('noise_offset: 0.1'), hashes))).toEqual([]);
  });
});

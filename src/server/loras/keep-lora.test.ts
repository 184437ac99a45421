// Keeping a LoRA of a job that is still running: its saves are known from its checkpoint updates.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../engine/paths.js';
import { LoraScriptsError } from '../../errors.js';
import { type JobStore, openSqliteStore } from '../../store/index.js';
import { keepTrainedLora } from './keep-lora.js';

const FIXTURE = join(PACKAGE_ROOT, 'tests/fixtures/lora/kohya-sd1-tiny.safetensors');
let workspace: string;
let store: JobStore;

beforeEach(async () => {
  workspace = mkdtempSync(join(tmpdir(), 'lora-keep-'));
  store = openSqliteStore(join(workspace, '.lora-scripts', 'studio.db'));
  mkdirSync(join(workspace, 'output', 'demo'), { recursive: true });
  copyFileSync(FIXTURE, join(workspace, 'output', 'demo', 'demo-step00000002.safetensors'));
  await store.createJob({ id: 'j', kind: 'train', device: 'default', config: {} });
  await store.claimNextQueued('default');
});

afterEach(async () => {
  await store.close();
  rmSync(workspace, { recursive: true, force: true });
});

describe('keepTrainedLora on a running job', () => {
  it('keeps a step its checkpoint updates name, before the job has outputs', async () => {
    const path = 'output/demo/demo-step00000002.safetensors';
    await store.appendUpdates('j', [{ type: 'checkpoint', step: 2, path, is_final: false }]);
    const kept = await keepTrainedLora({ store, workspace, jobId: 'j', step: 2 });
    expect(kept).toBe('output/demo/demo-step2.safetensors');
    expect(existsSync(join(workspace, kept))).toBe(true);
  });

  it('says the job has saved no LoRA yet when no update names the step', async () => {
    const error = await keepTrainedLora({ store, workspace, jobId: 'j', step: 4 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LoraScriptsError);
    expect((error as LoraScriptsError).hint).toMatch(/has saved no LoRA yet/);
  });
});

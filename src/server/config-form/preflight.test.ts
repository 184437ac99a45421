// The pre-flight on real files: the shipped demo model, a LoRA fixture, demo pictures in a temp workspace.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeSampleDataset } from '../../demo/index.js';
import { checkTrainingDataset, readDataset } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { LoraScriptsError } from '../../errors.js';
import { openSqliteStore } from '../../store/index.js';
import { isFile, resolveConfig, validateConfig } from '../../config/index.js';
import {
  hashDataset,
  legacyModelHash,
  measureDataset,
  readTrainingSets,
  recommendTraining,
  runFingerprint,
} from '../../train/index.js';
import { preflightReportSchema } from './api-schemas.js';
import type { DetectDevice } from './device.js';
import { type PreflightReport, preflightConfig } from './preflight.js';

const ROOT = join(import.meta.dirname, '../../..');
const GPU = { kind: 'cuda' as const, memoryGiB: 24, name: 'RTX 4090' };
const onGpu: DetectDevice = async () => ({ facts: GPU, unknownReason: '' });
const noDevice: DetectDevice = async () => ({ facts: null, unknownReason: 'the engine is not set up yet' });
const GOOD = { train_data_dir: 'datasets/demo', base_model: 'models/demo-sd1.safetensors' };
const PICTURES = 6;

let dir: string;
let workspace: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-preflight-'));
  workspace = join(dir, 'workspace');
  mkdirSync(join(workspace, 'models'), { recursive: true });
  mkdirSync(join(dir, 'outside'));
  copyFileSync(join(ROOT, 'models', 'demo-sd1.safetensors'), join(workspace, 'models', 'demo-sd1.safetensors'));
  copyFileSync(
    join(ROOT, 'tests', 'fixtures', 'lora', 'kohya-sd1-tiny.safetensors'),
    join(workspace, 'models', 'style.safetensors'),
  );
  await writeSampleDataset({
    dir: join(workspace, 'datasets', 'demo'),
    styles: ['jiangnan'],
    count: PICTURES,
    seed: 7,
    sizePx: 64,
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The report, which must match the route's response schema whatever the config. */
async function preflight(config: Record<string, unknown>, detectDevice = onGpu): Promise<PreflightReport> {
  const report = await preflightConfig(config, { workspace, detectDevice });
  expect(preflightReportSchema.parse(report)).toEqual(report);
  expect(JSON.stringify(report)).not.toContain(dir);
  return report;
}

const problemOf = (report: PreflightReport, field: string) => report.problems.find((p) => p.field === field);

describe('preflightConfig', () => {
  it('passes the demo config, counting the steps as the engine does and the memory from the GPU footprint', async () => {
    const report = await preflight(GOOD);
    expect(report).toMatchObject({ ok: true, problems: [], auto: [] });
    // 6 square pictures at batch 1: 6 steps per epoch, 10 epochs by default.
    expect(report.estimate).toMatchObject({ steps: 60, seconds: null, device: 'cuda: RTX 4090 (24 GiB)' });
    expect(report.estimate.memory_mib).toBeGreaterThan(4 * 1024);
    expect(report.estimate.notes.join('\n')).toContain('6 per epoch');
  });

  it('follows the batch size, the accumulation steps and `max_train_steps`', async () => {
    const batched = await preflight({ ...GOOD, batch_size: 4, gradient_accumulation_steps: 2, epochs: 3 });
    expect(batched.estimate.steps).toBe(3); // 2 batches per epoch → 1 step per epoch
    const capped = await preflight({ ...GOOD, max_train_steps: 7 });
    expect(capped.estimate.steps).toBe(7);
  });

  it('says where a folder is missing, naming the path as sent', async () => {
    const report = await preflight({ ...GOOD, train_data_dir: 'datasets/nowhere' });
    expect(report.ok).toBe(false);
    expect(problemOf(report, 'train_data_dir')).toMatchObject({
      code: 'path_missing',
      blocking: true,
      message: '`train_data_dir`: `datasets/nowhere` does not exist in the workspace',
    });
    expect(report.estimate.steps).toBeNull();
  });

  it('refuses a LoRA as the base model, pointing at `init_lora`', async () => {
    const report = await preflight({ ...GOOD, base_model: 'models/style.safetensors' });
    expect(problemOf(report, 'base_model')).toMatchObject({ code: 'base_model_is_lora', blocking: true });
    expect(problemOf(report, 'base_model')!.hint).toContain('init_lora');
    expect(report.estimate.memory_mib).toBeNull();
  });

  it('refuses a base model as `init_lora`, and takes a LoRA there', async () => {
    const wrong = await preflight({ ...GOOD, init_lora: 'models/demo-sd1.safetensors' });
    expect(problemOf(wrong, 'init_lora')).toMatchObject({ code: 'init_lora_not_lora', blocking: true });
    expect(problemOf(wrong, 'init_lora')!.message).toMatch(
      /^`models\/demo-sd1.safetensors`: `init_lora` is not a LoRA/,
    );
    const right = await preflight({ ...GOOD, init_lora: 'models/style.safetensors' });
    expect(right.ok).toBe(true);
  });

  it('names a negative learning rate and an unknown key with the CLI messages, and still checks the rest', async () => {
    const report = await preflight({ ...GOOD, learning_rate: -0.0001, lora_rnak: 8 });
    expect(report.ok).toBe(false);
    expect(problemOf(report, 'learning_rate')).toMatchObject({
      code: 'invalid_value',
      blocking: true,
      message: '`learning_rate` must be a number > 0 and ≤ 1 or `auto`, got `-0.0001`',
    });
    expect(problemOf(report, 'lora_rnak')).toMatchObject({ code: 'unknown_key', blocking: true });
    expect(problemOf(report, 'lora_rnak')!.hint).toContain('did you mean `lora_rank`?');
    // The pictures and the base model were checked all the same.
    expect(report.problems).toHaveLength(2);
    expect(report.estimate.steps).toBe(60);
  });

  it('fills `auto` with the values `train` would apply, each with its reason', async () => {
    const report = await preflight({
      ...GOOD,
      lora_rank: 'auto',
      epochs: 'auto',
      batch_size: 'auto',
      learning_rate: 'auto',
    });
    expect(report.ok).toBe(true);
    const stats = await measureDataset(join(workspace, 'datasets', 'demo'));
    const expected = recommendTraining({ dataset: stats, device: GPU, resolutionPx: 64, isSdxl: false });
    expect(report.auto.map((a) => a.key)).toEqual(['lora_rank', 'batch_size', 'epochs', 'learning_rate']);
    for (const value of report.auto) {
      expect(value.value).toBe(expected.values[value.key]);
      expect(value.reason.length).toBeGreaterThan(10);
    }
    const epochs = expected.values.epochs;
    const batch = expected.values.batch_size;
    expect(report.estimate.steps).toBe(Math.ceil(PICTURES / batch) * epochs);
  });

  it('without a known device gives the `auto` values that do not need one, and says why the others wait', async () => {
    const report = await preflight({ ...GOOD, lora_rank: 'auto', batch_size: 'auto', learning_rate: 'auto' }, noDevice);
    expect(report.ok).toBe(true);
    expect(report.auto.map((a) => a.key)).toEqual(['lora_rank']);
    expect(problemOf(report, 'batch_size')).toMatchObject({ code: 'auto_unresolved', blocking: false });
    expect(problemOf(report, 'learning_rate')).toMatchObject({ code: 'auto_unresolved', blocking: false });
    expect(report.estimate).toMatchObject({ steps: null, memory_mib: null });
    expect(report.estimate.device).toBe('unknown (the engine is not set up yet)');
  });

  it('confines paths to the workspace: absolute, `..` and symlinks out are problems', async () => {
    symlinkSync(join(dir, 'outside'), join(workspace, 'escape'));
    const report = await preflight({
      train_data_dir: '../outside',
      base_model: '/etc/hosts',
      validation_dir: 'escape/pictures',
    });
    expect(problemOf(report, 'train_data_dir')).toMatchObject({ code: 'path_unsafe', blocking: true });
    expect(problemOf(report, 'base_model')).toMatchObject({ code: 'path_unsafe', blocking: true });
    expect(problemOf(report, 'validation_dir')).toMatchObject({ code: 'path_outside_workspace', blocking: true });
  });

  it('reports a picture `train` could not read with the code `train` stops with, its path as the client knows it', async () => {
    const data = join(workspace, 'datasets', 'broken');
    await writeSampleDataset({ dir: data, styles: ['generic'], count: 2, seed: 1, sizePx: 64 });
    writeFileSync(join(data, 'generic_000.png'), 'not a picture');
    const trainError = await readDataset({
      dataDir: data,
      metadataPath: join(data, 'metadata.csv'),
      captionExtension: '.txt',
    }).catch((error: unknown) => error);
    expect(trainError).toBeInstanceOf(LoraScriptsError);
    const report = await preflight({ ...GOOD, train_data_dir: 'datasets/broken' });
    const problem = problemOf(report, 'train_data_dir');
    expect(problem).toMatchObject({ code: (trainError as LoraScriptsError).code, blocking: true });
    expect(problem!.message).toMatch(/^`datasets\/broken\/generic_000.png`: cannot be read as an image/);
  });

  it('lists the dataset rules `train` only warns about as problems that do not block', async () => {
    const data = join(workspace, 'datasets', 'twice');
    const { files } = await writeSampleDataset({ dir: data, styles: ['lingnan'], count: 3, seed: 2, sizePx: 64 });
    // A second copy of one picture under another name: a near-duplicate.
    copyFileSync(join(data, files[0]!), join(data, 'lingnan_900.png'));
    writeFileSync(
      join(data, 'metadata.csv'),
      `file_name,caption\n${files.map((f, i) => `${f},a lingnan street ${i}`).join('\n')}\nlingnan_900.png,the same street again\n`,
    );
    const report = await preflight({ ...GOOD, train_data_dir: 'datasets/twice' });
    expect(report.ok).toBe(true);
    const duplicate = report.problems.find((p) => p.code === 'dataset_near_duplicate');
    expect(duplicate).toMatchObject({ field: 'train_data_dir', blocking: false });
    expect(duplicate!.message).toMatch(/^\d of 4 pictures: /);
    // `train` warns about the same rule before it starts.
    const items = await readDataset({
      dataDir: data,
      metadataPath: join(data, 'metadata.csv'),
      captionExtension: '.txt',
    });
    const warnings = checkTrainingDataset(items, {
      dataDir: data,
      resolutionPx: null,
      tokenizerDir: CLIP_TOKENIZER_DIR,
    });
    expect(warnings).toContain('near-duplicate');
  });

  it('treats a hub id as a base model it cannot check yet, without blocking', async () => {
    const report = await preflight({ ...GOOD, base_model: 'runwayml/stable-diffusion-v1-5' });
    expect(report.ok).toBe(true);
    expect(problemOf(report, 'base_model')).toMatchObject({ code: 'base_model_not_checked', blocking: false });
  });

  it('bases seconds on the timed steps of a past run with the same setup, and on nothing else', async () => {
    const store = openSqliteStore(join(dir, 'studio.db'));
    try {
      // A past run of the same setup that timed its steps, then newer ones that cannot serve: other batch, `auto`.
      await store.createJob({ kind: 'train', device: 'default', config: { ...GOOD, output_name: 'past' } });
      const past = (await store.claimNextQueued('default'))!;
      const progress = [9000, 8000, 300, 200, 250].map((stepMs, i) => ({
        type: 'progress' as const,
        step: i + 1,
        total_steps: 5,
        epoch: 1,
        loss: 0.1,
        loss_smoothed: 0.1,
        lr: 1e-4,
        step_ms: stepMs,
        eta_s: null,
      }));
      await store.appendUpdates(past.id, progress);
      await store.applyEvent(past.id, { type: 'finish', outputs: [] });
      await store.createJob({ kind: 'train', device: 'default', config: { ...GOOD, batch_size: 2 } });
      await store.createJob({ kind: 'train', device: 'default', config: { ...GOOD, batch_size: 'auto' } });

      const timed = await preflightConfig(GOOD, { workspace, detectDevice: onGpu, store });
      expect(preflightReportSchema.parse(timed)).toEqual(timed);
      // 60 steps at the median of the steps after the warm-up (250 ms).
      expect(timed.estimate.seconds).toBe(15);
      expect(timed.estimate.notes.join('\n')).toContain(`job ${past.id}`);

      const otherSize = await preflightConfig({ ...GOOD, resolution: 128 }, { workspace, detectDevice: onGpu, store });
      expect(otherSize.estimate.seconds).toBeNull();
      const otherBatch = await preflightConfig({ ...GOOD, batch_size: 2 }, { workspace, detectDevice: onGpu, store });
      expect(otherBatch.estimate.seconds).toBeNull();
    } finally {
      await store.close();
    }
  });

  it('checks `resume` as `train` does: no state, a state whose config changed since, a state that fits', async () => {
    const output = { ...GOOD, output_dir: 'output/resumed' };
    const missing = await preflight({ ...output, resume: 'latest' });
    expect(problemOf(missing, 'resume')).toMatchObject({ code: 'state_missing', blocking: true });
    const fresh = await preflight({ ...output, resume: 'auto' });
    expect(fresh.ok).toBe(true);
    expect(problemOf(fresh, 'resume')).toMatchObject({ code: 'resume_new_run', blocking: false });

    // A state saved by a run of this config, with the fingerprint train/run.ts gives it.
    const run = resolveConfig(validateConfig({ file: 'run', text: JSON.stringify(output) }), {
      cwd: workspace,
      isFile,
    });
    const { items } = await readTrainingSets(run);
    const fingerprint = runFingerprint(run, {
      dataset: await hashDataset(items),
      baseModel: legacyModelHash(run.base_model) ?? run.base_model,
      initLora: null,
    });
    const stateDir = join(workspace, 'output', 'resumed', 'states', 'step-00000005');
    mkdirSync(stateDir, { recursive: true });
    writeFileSync(join(stateDir, 'state.json'), JSON.stringify({ step: 5, epoch: 1, saved_at: 1, fingerprint }));

    const fits = await preflight({ ...output, resume: 'latest', epochs: 20 });
    expect(fits.ok).toBe(true);
    expect(problemOf(fits, 'resume')).toMatchObject({ code: 'resume_from_state', blocking: false });
    expect(problemOf(fits, 'resume')!.message).toContain('step 5 (`output/resumed/states/step-00000005`)');
    const changed = await preflight({ ...output, resume: 'latest', lora_rank: 8 });
    expect(problemOf(changed, 'resume')).toMatchObject({ code: 'resume_config_changed', blocking: true });
    expect(problemOf(changed, 'resume')!.message).toContain('lora_rank');
  });

  it('warns that a finished LoRA of the same name will be replaced', async () => {
    mkdirSync(join(workspace, 'output', 'done'), { recursive: true });
    writeFileSync(join(workspace, 'output', 'done', 'done.safetensors'), 'a finished LoRA');
    const report = await preflight({ ...GOOD, output_dir: 'output/done' });
    expect(report.ok).toBe(true);
    expect(problemOf(report, 'output_name')).toMatchObject({
      code: 'output_exists',
      blocking: false,
      message: '`output/done/done.safetensors` already exists: this run replaces it',
    });
  });

  it('never throws: any config is answered with its problems', async () => {
    const configs: Record<string, unknown>[] = [
      {},
      { train_data_dir: 5, base_model: null, epochs: { many: true }, resume: '../state' },
      { ...GOOD, resume: '../elsewhere', cache_dir: '/tmp', output_dir: 'a\\b' },
      { ...GOOD, train_data_dir: 'models/demo-sd1.safetensors', metadata_path: 'datasets' },
      { ...GOOD, validation_split: 0.5, validation_dir: 'datasets/demo' },
      { ...GOOD, train_data_dir: 'datasets\u0000x' },
    ];
    for (const config of configs) {
      const report = await preflight(config);
      expect(report.ok).toBe(false);
      expect(report.problems.length).toBeGreaterThan(0);
    }
    const empty = await preflight({});
    expect(empty.problems.map((p) => [p.field, p.code])).toEqual([
      ['train_data_dir', 'missing_key'],
      ['base_model', 'missing_key'],
    ]);
  });
});

// The pre-flight on real files: the shipped demo model, the LoRA fixtures, a cut-off copy, hand-written VAE and
// text-encoder files, a diffusers folder's configs, a hub id.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../errors.js';
import { serializeSafetensors } from '../lora/safetensors.js';
import { checkBaseModel, inspectCheckpoint } from './index.js';

const ROOT = join(import.meta.dirname, '../..');
const DEMO = join(ROOT, 'models', 'demo-sd1.safetensors');
const LORAS = join(ROOT, 'tests', 'fixtures', 'lora');
const USE = { cwd: ROOT, culprit: 'base_model', loraHint: 'put it under `init_lora`' };

let dir: string;

function writeTensors(name: string, keys: string[]): string {
  const data = new Uint8Array(4);
  const path = join(dir, name);
  writeFileSync(
    path,
    serializeSafetensors({
      metadata: {},
      tensors: new Map(keys.map((key) => [key, { dtype: 'F32' as const, shape: [1], data }])),
    }),
  );
  return path;
}

function errorOf(run: () => unknown): CheckpointError {
  try {
    run();
  } catch (error) {
    if (error instanceof CheckpointError) return error;
    throw error;
  }
  throw new Error('expected a CheckpointError');
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'checkpoint-read-'));
});

describe('inspectCheckpoint', () => {
  it('reads the demo model: SD 1.x, epsilon, 64 px from its architecture metadata', () => {
    const verdict = checkBaseModel(DEMO, USE);
    expect(verdict).toMatchObject({
      kind: 'base',
      layout: 'single-file',
      family: 'sd1',
      predictionType: 'epsilon',
      nativeSizePx: 64,
    });
    expect(verdict.architecture?.unet.in_channels).toBe(4);
  });

  it.each(['kohya-sd1-tiny.safetensors', 'kohya-sdxl-tiny.safetensors', 'peft-sd1-tiny.safetensors'])(
    'knows the LoRA %s',
    (name) => {
      expect(inspectCheckpoint(join(LORAS, name), USE).kind).toBe('lora');
    },
  );

  it('refuses a LoRA as base model with the hint the command gives', () => {
    const error = errorOf(() =>
      checkBaseModel('tests/fixtures/lora/kohya-sd1-tiny.safetensors', {
        ...USE,
        culprit: 'tests/fixtures/lora/kohya-sd1-tiny.safetensors',
      }),
    );
    expect(error.line).toBe(
      'tests/fixtures/lora/kohya-sd1-tiny.safetensors: this is a LoRA, not a base model (all its keys start with `lora_`)',
    );
    expect([error.code, error.hint]).toEqual(['base_model_is_lora', 'put it under `init_lora`']);
  });

  it('refuses a VAE and a text encoder on their own', () => {
    const vae = writeTensors('vae.safetensors', [
      'encoder.conv_in.weight',
      'decoder.conv_out.weight',
      'post_quant_conv.weight',
    ]);
    const te = writeTensors('te.safetensors', [
      'text_model.embeddings.token_embedding.weight',
      'text_model.final_layer_norm.weight',
    ]);
    expect(errorOf(() => checkBaseModel(vae, { ...USE, culprit: 'vae.safetensors' })).line).toBe(
      'vae.safetensors: this is a VAE alone, not a base model',
    );
    expect(errorOf(() => checkBaseModel(te, { ...USE, culprit: 'te.safetensors' })).code).toBe(
      'base_model_is_text_encoder',
    );
  });

  it('refuses a truncated download before reading any tensor', () => {
    const cut = join(dir, 'cut.safetensors');
    const bytes = readFileSync(DEMO);
    writeFileSync(cut, bytes.subarray(0, bytes.length - 1000));
    const error = errorOf(() => checkBaseModel(cut, USE));
    expect(error.code).toBe('base_model_corrupt');
    expect(error.message).toMatch(
      /^is not a readable \.safetensors file \(tensor `.+` ends at byte \d+ but the file's data is \d+ bytes\)$/,
    );
  });

  it('names a missing path and a pickle file; takes `owner/name` for a hub id', () => {
    expect(errorOf(() => inspectCheckpoint('models/nope.safetensors', USE)).line).toBe('base_model: does not exist');
    writeFileSync(join(dir, 'model.ckpt'), 'not loaded');
    expect(errorOf(() => inspectCheckpoint(join(dir, 'model.ckpt'), USE)).code).toBe('unsupported_model_format');
    expect(checkBaseModel('runwayml/stable-diffusion-v1-5', USE)).toMatchObject({
      kind: 'base',
      layout: 'hub-id',
      family: null,
      nativeSizePx: null,
    });
  });

  it('reads a diffusers folder from its configs', () => {
    const folder = join(dir, 'pipeline');
    const write = (part: string, value: unknown) => {
      mkdirSync(join(folder, part, '..'), { recursive: true });
      writeFileSync(join(folder, part), JSON.stringify(value));
    };
    write('model_index.json', { _class_name: 'StableDiffusionXLPipeline' });
    write('unet/config.json', { sample_size: 128, in_channels: 4 });
    write('vae/config.json', { block_out_channels: [128, 256, 512, 512] });
    write('scheduler/scheduler_config.json', { prediction_type: 'epsilon' });
    expect(checkBaseModel(folder, USE)).toMatchObject({
      layout: 'diffusers-folder',
      family: 'sdxl',
      predictionType: 'epsilon',
      nativeSizePx: 1024,
    });
  });
});

// A Flux run's pre-flight: what train_flux cannot do is one ConfigError naming the key, before anything starts.
import { describe, expect, it } from 'vitest';
import { judgeDiffusersFolder, judgeSingleFile, type BaseModelVerdict } from '../checkpoint/index.js';
import { resolveConfig, validateConfig } from '../config/index.js';
import { ConfigError } from '../errors.js';
import { samplingDefaults } from '../generate/flux-generate.js';
import { checkFluxRun, fluxIgnoredKeysNote } from './flux-run.js';

function config(yaml = '') {
  const parsed = validateConfig({ file: 'flux.yaml', text: `train_data_dir: data\nbase_model: flux\n${yaml}` });
  return resolveConfig(parsed, { cwd: '/work', isFile: () => false });
}

const folder = judgeDiffusersFolder({
  modelIndex: { _class_name: 'FluxPipeline' },
  unet: null,
  vae: null,
  textEncoder: null,
  scheduler: null,
  component: null,
  transformer: { guidance_embeds: true },
}) as BaseModelVerdict;
const transformerFile = judgeSingleFile({
  tensors: new Map(['img_in.weight', 'double_blocks.0.img_attn.norm.key_norm.scale'].map((k) => [k, { shape: [1] }])),
  metadata: {},
}) as BaseModelVerdict;

function refusal(run: () => void): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('checkFluxRun', () => {
  it('accepts a plain LoRA run on a Flux folder, and on a transformer file with flux_components', () => {
    expect(() => checkFluxRun(config(), folder, 1)).not.toThrow();
    expect(() => checkFluxRun(config('flux_components: components'), transformerFile, 1)).not.toThrow();
    expect(() => checkFluxRun(config('resume: latest'), folder, 1)).not.toThrow(); // train_flux saves states
  });

  it('refuses a transformer file without flux_components, naming the key and the folder it wants', () => {
    const error = refusal(() => checkFluxRun(config(), transformerFile, 1));
    expect(error.culprit).toBe('flux_components');
    expect(error.hint).toContain('diffusers FLUX.1 folder');
  });

  it.each([
    ['network_type', 'network_type: loha'],
    ['train_text_encoder', 'train_text_encoder: true'],
    ['init_lora', 'init_lora: parent.safetensors'],
    ['reg_data_dir', 'reg_data_dir: class'],
    ['masked_loss', 'masked_loss: true'],
  ])('refuses `%s`, which train_flux does not do', (key, yaml) => {
    const error = refusal(() => checkFluxRun(config(yaml), folder, 1));
    expect(error.culprit).toBe(key);
    expect(error.message).toContain(`\`${key}\``);
  });

  it('names the SD-only keys a Flux run does not use, once, when they are set', () => {
    const notes: string[] = [];
    checkFluxRun(config('noise_offset: 0.05\nsample_prompts: [a cat]'), folder, 1, (line) => notes.push(line));
    expect(notes).toEqual([
      'warning: Flux: `noise_offset`, `sample_prompts` are not used by Flux training (docs/formats/flux.md §7)',
    ]);
    expect(fluxIgnoredKeysNote(config())).toBeNull();
  });

  it('refuses a launch of several processes', () => {
    expect(refusal(() => checkFluxRun(config(), folder, 2)).culprit).toBe('devices');
  });
});

describe('samplingDefaults', () => {
  it('gives Flux dev 28 steps at guidance 3.5, schnell 4 steps, and SD what WebUI does', () => {
    expect(samplingDefaults('dev')).toEqual({ steps: 28, cfgScale: 3.5 });
    expect(samplingDefaults('schnell').steps).toBe(4);
    expect(samplingDefaults(undefined)).toEqual({ steps: 20, cfgScale: 7 });
  });
});

// The pure pieces behind `generate`: sampler names, LoRA name lookup, batches and seeds, file numbering.
import { describe, expect, it } from 'vitest';
import { LoraScriptsError } from '../errors.js';
import { pickLora, type LoraCandidate } from './lora-names.js';
import { imageFileNames, planGeneration, type GenerationSettings } from './plan.js';
import { chooseScheduler } from './samplers.js';

function errorOf(run: () => unknown): LoraScriptsError {
  try {
    run();
  } catch (error) {
    if (error instanceof LoraScriptsError) return error;
    throw error;
  }
  throw new Error('expected an error');
}

describe('chooseScheduler', () => {
  it('maps WebUI names, old combined names and schedule types to diffusers schedulers', () => {
    expect(chooseScheduler('Euler a')).toEqual({
      sampler: 'Euler a',
      scheduleType: 'Automatic',
      engine: { class_name: 'EulerAncestralDiscreteScheduler', config: {} },
    });
    const karras = {
      sampler: 'DPM++ 2M',
      scheduleType: 'Karras',
      engine: {
        class_name: 'DPMSolverMultistepScheduler',
        config: { algorithm_type: 'dpmsolver++', solver_order: 2, use_karras_sigmas: true },
      },
    };
    expect(chooseScheduler('DPM++ 2M Karras')).toEqual(karras);
    expect(chooseScheduler('dpm++ 2m', 'karras')).toEqual(karras);
    expect(chooseScheduler('UniPC').engine.class_name).toBe('UniPCMultistepScheduler');
    expect(chooseScheduler('LMS', 'Exponential').engine).toEqual({
      class_name: 'LMSDiscreteScheduler',
      config: { use_exponential_sigmas: true },
    });
  });

  it('says why a WebUI sampler is missing and lists the ones there are', () => {
    expect(errorOf(() => chooseScheduler('DPM++ SDE Karras')).line).toBe(
      '--sampler: `DPM++ SDE Karras` needs torchsde, which the engine does not install',
    );
    const unknown = errorOf(() => chooseScheduler('Eular a'));
    expect(unknown.line).toBe('--sampler: unknown sampler `Eular a`');
    expect(unknown.hint).toContain('`Euler a`, `Euler`, `LMS`');
    expect(errorOf(() => chooseScheduler('DDIM', 'Karras')).line).toBe('--sampler: `DDIM` has no `Karras` schedule');
  });
});

describe('pickLora', () => {
  const candidates: LoraCandidate[] = [
    { path: '/o/jiangnan_style/jiangnan_style.safetensors', stem: 'jiangnan_style', alias: 'jiangnan_style' },
    {
      path: '/o/jiangnan_style/jiangnan_style-step00000100.safetensors',
      stem: 'jiangnan_style-step00000100',
      alias: 'jiangnan_style',
    },
    { path: '/m/neon.safetensors', stem: 'neon', alias: 'neon_night_style' },
  ];

  it('prefers the file stem, then the ss_output_name alias', () => {
    expect(pickLora('jiangnan_style', candidates, ['/o'], '--prompt').path).toBe(
      '/o/jiangnan_style/jiangnan_style.safetensors',
    );
    expect(pickLora('neon_night_style', candidates, ['/o'], '--prompt').path).toBe('/m/neon.safetensors');
  });

  it('an unknown name lists the folders searched and the close names', () => {
    const error = errorOf(() => pickLora('jiangnan_styel', candidates, ['/o', '/m'], '--prompt'));
    expect(error.line).toBe('--prompt: no LoRA named `jiangnan_styel` in `/o`, `/m` (3 LoRA files there)');
    expect(error.hint).toBe('did you mean `jiangnan_style`?');
  });

  it('two files with one name is an error, not a coin toss', () => {
    const twins = [...candidates, { path: '/m/jiangnan_style.safetensors', stem: 'jiangnan_style', alias: null }];
    expect(errorOf(() => pickLora('jiangnan_style', twins, ['/o', '/m'], '--prompt')).line).toBe(
      '--prompt: `<lora:jiangnan_style:…>` matches 2 files: /o/jiangnan_style/jiangnan_style.safetensors, /m/jiangnan_style.safetensors',
    );
  });
});

describe('planGeneration', () => {
  const settings: GenerationSettings = {
    prompt: 'town, <lora:j:0.5>',
    encoderPrompt: 'town',
    negativePrompt: '(blurry:1.2)',
    encoderNegativePrompt: 'blurry',
    loras: [{ path: '/l/j.safetensors', name: 'j', teWeight: 0.5, unetWeight: 0.5, hash: 'abcdef012345' }],
    scheduler: chooseScheduler('Euler'),
    steps: 10,
    cfgScale: 7,
    seed: 4294967294,
    width: 64,
    height: 96,
    batchCount: 2,
    batchSize: 2,
  };

  it('gives image i seed + i across batches, as WebUI does, and each image its own parameters', () => {
    const plan = planGeneration(
      [settings],
      {
        path: '/b/demo.safetensors',
        sha256: 'f'.repeat(64),
        name: 'demo',
        engineFacts: { family: 'sd1', prediction_type: 'epsilon' },
      },
      'lora-scripts-0.1.0',
      '/out/.stage',
    );
    const batches = plan.request.batches as {
      seeds: number[];
      files: string[];
      prompt: string;
      negative_prompt: string;
    }[];
    expect(batches.map((b) => b.seeds)).toEqual([
      [4294967294, 4294967295],
      [0, 1],
    ]);
    expect(batches[0]).toMatchObject({
      prompt: 'town',
      negative_prompt: 'blurry',
      files: ['image-0-0-0.png', 'image-0-0-1.png'],
    });
    expect(plan.images.map((i) => i.parameters.seed)).toEqual([4294967294, 4294967295, 0, 1]);
    expect(plan.images[0]!.parameters).toMatchObject({
      prompt: 'town, <lora:j:0.5>',
      negativePrompt: '(blurry:1.2)',
      modelHash: 'ffffffffff',
      model: 'demo',
      width: 64,
      height: 96,
    });
  });

  it('starts every prompt at the same seed, so prompts can be compared image for image', () => {
    const other = { ...settings, prompt: 'river', encoderPrompt: 'river', loras: [], batchCount: 1 };
    const plan = planGeneration(
      [settings, other],
      { path: '/b/d', sha256: null, name: 'd', engineFacts: { family: 'sd1', prediction_type: 'epsilon' } },
      'v',
      '/s',
    );
    const batches = plan.request.batches as { seeds: number[]; prompt: string; loras: unknown[] }[];
    expect(batches.map((b) => [b.prompt, b.seeds, b.loras.length])).toEqual([
      ['town', [4294967294, 4294967295], 1],
      ['town', [0, 1], 1],
      ['river', [4294967294, 4294967295], 0],
    ]);
    expect(plan.images[4]!.parameters).toMatchObject({
      prompt: 'river',
      seed: 4294967294,
      modelHash: null,
      loraHashes: [],
    });
  });

  it('numbers files after the highest number already in the folder', () => {
    expect(imageFileNames(['00003-9.png', '00010-1.png', 'notes.txt'], [5, 6])).toEqual(['00011-5.png', '00012-6.png']);
    expect(imageFileNames([], [7])).toEqual(['00000-7.png']);
  });
});

// The txt2img body reader on plain values: A1111's coercion and defaults, and what it refuses.
import { describe, expect, it } from 'vitest';
import { readTxt2imgBody } from './txt2img-fields.js';

function settingsOf(body: unknown) {
  const reading = readTxt2imgBody(body);
  if (!reading.ok) throw new Error(JSON.stringify(reading.faults));
  return reading;
}

describe('readTxt2imgBody', () => {
  it('fills A1111 defaults for missing and null fields (steps 50, 512 px, Euler, seed -1)', () => {
    const { settings, parameters } = settingsOf({ prompt: 'x', steps: null });
    expect(settings).toMatchObject({
      prompt: 'x',
      negative_prompt: '',
      steps: 50,
      width: 512,
      height: 512,
      seed: -1,
      sampler: 'Euler',
      sampler_field: 'sampler_index',
      batch_size: 1,
      n_iter: 1,
      checkpoint: null,
      send_images: true,
      save_images: false,
    });
    expect(parameters).toMatchObject({ steps: 50, sampler_name: null, enable_hr: false, alwayson_scripts: {} });
  });

  it('coerces as pydantic v1 does: numeric strings, ints into floats, boolean words', () => {
    const { settings } = settingsOf({
      steps: '20',
      cfg_scale: 7,
      send_images: 'false',
      seed: '42',
      sampler_name: 'DDIM',
    });
    expect(settings).toMatchObject({ steps: 20, cfg_scale: 7, send_images: false, seed: 42, sampler: 'DDIM' });
    expect(settingsOf({ override_settings: { sd_model_checkpoint: 'demo-sd1' } }).settings.checkpoint).toBe('demo-sd1');
  });

  it('lists every type fault at once, FastAPI style', () => {
    const reading = readTxt2imgBody({ steps: 2.5, width: 'wide', send_images: [] });
    expect(reading).toEqual({
      ok: false,
      faults: [
        { loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' },
        { loc: ['body', 'width'], msg: 'value is not a valid integer', type: 'type_error.integer' },
        { loc: ['body', 'send_images'], msg: 'value could not be parsed to a boolean', type: 'type_error.bool' },
      ],
    });
  });

  it('accepts unsupported features at the value that asks for nothing, refuses any other', () => {
    expect(readTxt2imgBody({ enable_hr: false, hr_upscaler: 'Latent', eta: 1, sampler_name: 'Euler a' }).ok).toBe(true);
    expect(readTxt2imgBody({ eta: 0.5, sampler_name: 'Euler a' })).toMatchObject({
      ok: false,
      faults: [{ loc: ['body', 'eta'], type: 'value_error.unsupported' }],
    });
    expect(readTxt2imgBody({ eta: 0.5, sampler_name: 'DPM++ 2M' }).ok).toBe(true); // that sampler never reads eta
    expect(readTxt2imgBody({ subseed_strength: 0.3, tiling: true })).toMatchObject({
      ok: false,
      faults: [{ loc: ['body', 'subseed_strength'] }, { loc: ['body', 'tiling'] }],
    });
  });

  it('refuses keys A1111 does not know, sizes off the 8-pixel grid, and runaway sizes', () => {
    expect(readTxt2imgBody({ prompt: 'x', sampler: 'Euler' })).toMatchObject({
      ok: false,
      faults: [{ loc: ['body', 'sampler'], type: 'value_error.extra' }],
    });
    expect(readTxt2imgBody({ width: 100, steps: 1000, batch_size: 0, seed: -2 })).toMatchObject({
      ok: false,
      faults: [
        { loc: ['body', 'steps'], type: 'value_error.number.not_le' },
        { loc: ['body', 'batch_size'], type: 'value_error.number.not_ge' },
        { loc: ['body', 'width'], type: 'value_error.multiple_of' },
        { loc: ['body', 'seed'] },
      ],
    });
    expect(readTxt2imgBody('prompt')).toMatchObject({
      ok: false,
      faults: [{ loc: ['body'], type: 'type_error.dict' }],
    });
  });
});

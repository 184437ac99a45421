import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import {
  buildParametersText,
  parseParametersText,
  PARAMETERS_KEY,
  readPngText,
  withPngText,
  type GenerationParameters,
} from './png-parameters.js';

// As A1111 v1.10 writes it (docs/formats/a1111-infotext.md §4): two prompt lines, quoted Lora hashes.
const WEBUI_TEXT = [
  'masterpiece, canal town, <lora:jiangnan_style:0.8>, (misty:1.2)',
  'white walls',
  'Negative prompt: lowres, blurry',
  'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Lora hashes: "jiangnan_style: 0123456789ab, neon: ba9876543210", Version: v1.10.1',
].join('\n');

const SETTINGS: GenerationParameters = {
  prompt: 'scenic view, <lora:jiangnan_style:0.7>',
  negativePrompt: 'lowres',
  steps: 12,
  sampler: 'Euler a',
  scheduleType: 'Automatic',
  cfgScale: 6.5,
  seed: 42,
  width: 64,
  height: 64,
  modelHash: '0123456789',
  model: 'demo-sd1',
  loraHashes: [{ name: 'jiangnan_style', hash: 'abcdef012345' }],
  version: 'lora-scripts-0.1.0',
  extra: {},
};

async function plainPng(): Promise<Buffer> {
  return sharp({ create: { width: 8, height: 8, channels: 3, background: { r: 10, g: 200, b: 30 } } })
    .png()
    .toBuffer();
}

describe('WebUI parameters text', () => {
  it('parses what WebUI writes', () => {
    expect(parseParametersText(WEBUI_TEXT, 'a.png')).toEqual({
      prompt: 'masterpiece, canal town, <lora:jiangnan_style:0.8>, (misty:1.2)\nwhite walls',
      negativePrompt: 'lowres, blurry',
      steps: 20,
      sampler: 'DPM++ 2M',
      scheduleType: 'Karras',
      cfgScale: 7,
      seed: 1234567890,
      width: 512,
      height: 768,
      modelHash: '6ce0161689',
      model: 'v1-5-pruned-emaonly',
      loraHashes: [
        { name: 'jiangnan_style', hash: '0123456789ab' },
        { name: 'neon', hash: 'ba9876543210' },
      ],
      version: 'v1.10.1',
      extra: {},
    });
  });

  it('writes the same layout WebUI writes, and reads back what it wrote', () => {
    const parsed = parseParametersText(WEBUI_TEXT, 'a.png');
    expect(buildParametersText(parsed)).toBe(WEBUI_TEXT);
    expect(buildParametersText(SETTINGS)).toBe(
      'scenic view, <lora:jiangnan_style:0.7>\nNegative prompt: lowres\nSteps: 12, Sampler: Euler a, CFG scale: 6.5, Seed: 42, Size: 64x64, Model hash: 0123456789, Model: demo-sd1, Lora hashes: "jiangnan_style: abcdef012345", Version: lora-scripts-0.1.0',
    );
    expect(parseParametersText(buildParametersText(SETTINGS), 'b.png')).toEqual(SETTINGS);
  });

  it('quotes values with commas or colons and keeps keys it does not know', () => {
    const settings = {
      ...SETTINGS,
      negativePrompt: '',
      model: 'odd, name: v2',
      extra: { 'Clip skip': '2', 'Hires upscale': '1.5' },
    };
    const text = buildParametersText(settings);
    expect(text).toContain('Model: "odd, name: v2"');
    expect(text).not.toContain('Negative prompt');
    expect(parseParametersText(text, 'c.png')).toEqual(settings);
  });

  it('says which key is missing', () => {
    expect(() =>
      parseParametersText('a prompt\nSteps: 20, Sampler: Euler, CFG scale: 7, Size: 64x64', 'd.png'),
    ).toThrow('the WebUI parameters have no `Seed`');
  });
});

describe('PNG text chunk', () => {
  it('stores Latin-1 text in tEXt, which sharp (libpng) reads back, and keeps the pixels', async () => {
    const png = await plainPng();
    const tagged = withPngText(png, PARAMETERS_KEY, WEBUI_TEXT, 'x.png');
    expect(tagged.includes(Buffer.from('tEXtparameters\0', 'latin1'))).toBe(true);
    const meta = await sharp(tagged).metadata();
    expect(meta.comments).toEqual([{ keyword: 'parameters', text: WEBUI_TEXT }]);
    expect(await sharp(tagged).raw().toBuffer()).toEqual(await sharp(png).raw().toBuffer());
  });

  it('stores other text as UTF-8 iTXt and replaces an earlier parameters chunk', async () => {
    const once = withPngText(await plainPng(), PARAMETERS_KEY, 'first\nSteps: 1, Sampler: Euler, Seed: 1', 'x.png');
    const text = '江南水乡, white walls\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 64x64';
    const twice = withPngText(once, PARAMETERS_KEY, text, 'x.png');
    expect(twice.includes(Buffer.from('iTXtparameters\0', 'latin1'))).toBe(true);
    expect(readPngText(twice, 'x.png')).toEqual(new Map([[PARAMETERS_KEY, text]]));
    expect((await sharp(twice).metadata()).comments).toEqual([{ keyword: 'parameters', text }]);
  });

  it('rejects what is not a PNG, naming the file', () => {
    expect(() => readPngText(Buffer.from('GIF89a....'), 'y.gif')).toThrow('not a PNG file');
  });
});

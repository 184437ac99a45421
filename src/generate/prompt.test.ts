import { describe, expect, it } from 'vitest';
import { LoraScriptsError } from '../errors.js';
import { parseNegativePrompt, parsePrompt } from './prompt.js';

function errorLine(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (error instanceof LoraScriptsError) return `${error.line} | hint: ${error.hint ?? ''}`;
    throw error;
  }
  throw new Error('expected an error');
}

describe('parsePrompt', () => {
  it('takes out every LoRA tag, with one weight, TE and UNet weights, or named weights', () => {
    const parsed = parsePrompt(
      'scenic view of ancient town, <lora:jiangnan_style:0.7>, spring <lora:neon night:1:0.25> <lyco:x:te=0:unet=0.5> <lora:plain>',
    );
    expect(parsed.loras).toEqual([
      { name: 'jiangnan_style', teWeight: 0.7, unetWeight: 0.7 },
      { name: 'neon night', teWeight: 1, unetWeight: 0.25 },
      { name: 'x', teWeight: 0, unetWeight: 0.5 },
      { name: 'plain', teWeight: 1, unetWeight: 1 },
    ]);
    expect(parsed.text).toBe('scenic view of ancient town, spring');
    expect(parsed.warnings).toEqual([]);
  });

  it('splits attention syntax into weighted segments as WebUI does, keeping escaped brackets as text', () => {
    const parsed = parsePrompt('a (misty:1.3) ((canal)) town, [crowd], \\(not weighted\\), time 12:30');
    expect(parsed.text).toBe('a misty canal town, crowd, (not weighted), time 12:30');
    expect(parsed.warnings).toEqual([]);
    const segments = parsed.segments!;
    expect(segments.map((s) => s.text)).toEqual([
      'a ',
      'misty',
      ' ',
      'canal',
      ' town, ',
      'crowd',
      ', (not weighted), time 12:30',
    ]);
    expect(segments.map((s) => Number(s.weight.toFixed(6)))).toEqual([1, 1.3, 1, 1.21, 1, 0.909091, 1]);
  });

  it('nests weights, applies brackets left open to the rest, and gives no segments without emphasis', () => {
    const nested = parsePrompt('(town, (bridge:1.5)), (rain').segments!;
    expect(nested.map((s) => [s.text, Number(s.weight.toFixed(6))])).toEqual([
      ['town, ', 1.1],
      ['bridge', 1.65],
      [', ', 1],
      ['rain', 1.1],
    ]);
    expect(parsePrompt('plain words, \\(escaped\\)').segments).toBeUndefined();
  });

  it('drops BREAK with a warning', () => {
    expect(parsePrompt('town BREAK river')).toEqual({
      text: 'town river',
      loras: [],
      warnings: ['--prompt: `BREAK` is removed (it does not start a new 75-token chunk here)'],
    });
  });

  it('names the bad tag in every error', () => {
    expect(errorLine(() => parsePrompt('town <lora:jiangnan:strong>'))).toBe(
      '--prompt: `<lora:jiangnan:strong>`: `strong` is not a number | hint: weights are plain decimals, e.g. `<lora:NAME:0.7>`',
    );
    expect(errorLine(() => parsePrompt('<lora::0.5>'))).toBe(
      '--prompt: `<lora::0.5>` has no LoRA name | hint: write `<lora:NAME:0.7>`',
    );
    expect(errorLine(() => parsePrompt('<lora:a:0.5:0.5:16>'))).toMatch(
      /^--prompt: `<lora:a:0.5:0.5:16>`: a fourth value \(`dyn`\) is not supported/,
    );
    expect(errorLine(() => parsePrompt('<hypernet:h:1>'))).toMatch(
      /^--prompt: `<hypernet:h:1>`: `hypernet` networks are not supported/,
    );
    expect(errorLine(() => parsePrompt('<lora:a:1> <lora:a:0.5>'))).toMatch(/^--prompt: `<lora:a:…>` appears twice/);
    expect(errorLine(() => parsePrompt('a [cat:dog:0.5] b'))).toMatch(
      /^--prompt: `\[cat:dog:0.5\]`: prompt editing and alternation are not supported/,
    );
  });
});

describe('parseNegativePrompt', () => {
  it('cleans attention syntax and refuses LoRA tags, which WebUI ignores there', () => {
    expect(parseNegativePrompt('(blurry:1.4), lowres').text).toBe('blurry, lowres');
    expect(errorLine(() => parseNegativePrompt('lowres <lora:x:1>'))).toBe(
      '--negative-prompt: `<lora:x:1>`: LoRA tags work only in the prompt | hint: move the tag to `--prompt` (WebUI ignores tags in the negative prompt too)',
    );
  });
});

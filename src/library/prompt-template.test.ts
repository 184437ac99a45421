// Prompt templates: every placeholder filled, unknown ones refused with the list, empty parts dropped.
import { describe, expect, it } from 'vitest';
import { checkPromptTemplate, fillPromptTemplate, type PromptValues } from './prompt-template.js';

const VALUES: PromptValues = {
  title: '雨中江南',
  prompt: '',
  style: 'jiangnan_style',
  strength: '0.7',
  trigger_words: 'jnstyle, white walls',
};

describe('fillPromptTemplate', () => {
  it('fills every placeholder, the LoRA tag included', () => {
    expect(fillPromptTemplate('{title}, {trigger_words}, water town, <lora:{style}:{strength}>', VALUES)).toBe(
      '雨中江南, jnstyle, white walls, water town, <lora:jiangnan_style:0.7>',
    );
  });

  it('drops comma-separated parts left empty', () => {
    expect(fillPromptTemplate('{title}, {prompt}, town', VALUES)).toBe('雨中江南, town');
    expect(fillPromptTemplate('{title}, {prompt}, town', { ...VALUES, prompt: 'at dusk' })).toBe(
      '雨中江南, at dusk, town',
    );
  });

  it('writes literal braces for doubled ones', () => {
    expect(fillPromptTemplate('{{not a placeholder}} {title}', VALUES)).toBe('{not a placeholder} 雨中江南');
  });
});

describe('checkPromptTemplate', () => {
  it('refuses an unknown placeholder and lists the known ones', () => {
    expect(() => checkPromptTemplate('{titel}, town')).toThrow(
      expect.objectContaining({
        code: 'invalid_prompt_template',
        message: 'prompt template: `{titel}` is not a placeholder',
        hint: 'use `{title}`, `{prompt}`, `{style}`, `{strength}`, `{trigger_words}`; write `{{` and `}}` for literal braces',
      }),
    );
  });

  it('refuses a lone brace', () => {
    expect(() => checkPromptTemplate('{title, town')).toThrow('prompt template: a lone `{` at character 1');
  });
});

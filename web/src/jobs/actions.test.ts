// Which actions a job offers, and what the jobs list names it by.
import { describe, expect, it } from 'vitest';
import { canCancel, canResume, jobSubject } from './actions.js';

describe('job actions', () => {
  it('offers cancel while queued or running and resume when interrupted', () => {
    expect(['queued', 'running'].every((s) => canCancel(s as 'queued'))).toBe(true);
    expect(canCancel('done')).toBe(false);
    expect(canResume('interrupted')).toBe(true);
    expect(canResume('failed')).toBe(false);
  });
});

describe('jobSubject', () => {
  it('names a job by what it works on', () => {
    expect(jobSubject({ kind: 'train', config: { train_data_dir: 'datasets/cats', output_name: 'cat-style' } })).toBe(
      'cat-style',
    );
    expect(jobSubject({ kind: 'train', config: { train_data_dir: 'datasets/cats/' } })).toBe('cats');
    expect(jobSubject({ kind: 'prepare', config: { dataset: 'datasets/江南' } })).toBe('江南');
    expect(jobSubject({ kind: 'generate', config: { prompts: ['a cat'], lora: 'output/x/x.safetensors' } })).toBe(
      'x.safetensors',
    );
    expect(jobSubject({ kind: 'generate', config: { prompts: ['a cat'] } })).toBe('a cat');
    expect(jobSubject({ kind: 'merge', config: { output: 'models/m.safetensors' } })).toBe('m.safetensors');
  });
});

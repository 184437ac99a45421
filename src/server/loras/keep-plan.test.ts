// Which intermediate LoRA a keep names, from a train job's outputs as the train executor records them.
import { describe, expect, it } from 'vitest';
import { LoraScriptsError } from '../../errors.js';
import { keptLoraName, planKeep, savedIntermediates } from './keep-plan.js';

// What train-executor returns: the final kohya file, the engine's diffusers file, then the intermediates.
const OUTPUTS = [
  'output/demo/demo.safetensors',
  'output/demo/pytorch_lora_weights.safetensors',
  'output/demo/demo-step00000100.safetensors',
  'output/demo/demo-step00000200.safetensors',
];
const trainJob = (outputs: string[], status: 'done' | 'running' | 'cancelled' | 'interrupted' = 'done') => ({
  id: 'j1',
  kind: 'train' as const,
  status,
  outputs,
});

function refusal(run: () => unknown): LoraScriptsError {
  try {
    run();
  } catch (error) {
    if (error instanceof LoraScriptsError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('savedIntermediates', () => {
  it("finds the intermediate LoRAs by train's own naming, in step order", () => {
    expect(savedIntermediates([...OUTPUTS].reverse())).toEqual([
      { path: 'output/demo/demo-step00000100.safetensors', outputName: 'demo', step: 100 },
      { path: 'output/demo/demo-step00000200.safetensors', outputName: 'demo', step: 200 },
    ]);
  });

  it('keeps a hyphenated output name whole and skips names train would not write', () => {
    expect(
      savedIntermediates([
        'out/my-lora-step00000005.safetensors',
        'out/my-lora-step5.safetensors', // a kept copy, not a save of the run
        'out/x-step00000005.ckpt',
      ]),
    ).toEqual([{ path: 'out/my-lora-step00000005.safetensors', outputName: 'my-lora', step: 5 }]);
  });
});

describe('planKeep', () => {
  it('copies the save of that step next to the final file, named with the plain step', () => {
    expect(planKeep(trainJob(OUTPUTS), 200)).toEqual({
      source: 'output/demo/demo-step00000200.safetensors',
      target: 'output/demo/demo-step200.safetensors',
    });
    expect(keptLoraName('江南', 7)).toBe('江南-step7.safetensors');
  });

  it('refuses a step with no save, naming the steps that have one', () => {
    const error = refusal(() => planKeep(trainJob(OUTPUTS), 150));
    expect(error.code).toBe('step_not_saved');
    expect(error.line).toBe('job `j1`: saved no LoRA at step 150');
    expect(error.hint).toBe('it saved LoRAs at steps 100, 200; keep one of those');
  });

  it('says why a job has nothing to keep: no save_steps, still running, interrupted', () => {
    expect(refusal(() => planKeep(trainJob(OUTPUTS.slice(0, 2)), 100)).hint).toMatch(/`save_steps`/);
    expect(refusal(() => planKeep(trainJob([], 'running'), 100)).hint).toMatch(/has saved no LoRA yet/);
    expect(refusal(() => planKeep(trainJob([], 'interrupted'), 100)).hint).toMatch(/resume it$/);
    expect(refusal(() => planKeep(trainJob([], 'cancelled'), 100)).hint).toMatch(/GET \/api\/loras/);
  });

  it('refuses a job of another kind', () => {
    const error = refusal(() => planKeep({ ...trainJob(OUTPUTS), kind: 'generate' }, 100));
    expect(error.code).toBe('not_a_train_job');
    expect(error.line).toBe('job `j1`: is a `generate` job; only train jobs save LoRAs to keep');
  });
});

// Tests only: what a training left in its output folder, read as a resume test compares it — the steps of its saved
// states, and its LoRA's fp32 tensors checked against another run's as torch.allclose does.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { readSafetensors } from '../lora/index.js';

/**
 * The steps of the complete states in `outputDir`. The engine writes a state in a `.saving-*` folder that it then
 * renames, and prunes old states as it goes, so a folder listed here may be gone when it is read.
 */
export function savedSteps(outputDir: string): number[] {
  const folder = join(outputDir, 'states');
  if (!existsSync(folder)) return [];
  return readdirSync(folder)
    .filter((name) => !name.startsWith('.'))
    .flatMap((name) => {
      try {
        return [(JSON.parse(readFileSync(join(folder, name, 'state.json'), 'utf8')) as { step: number }).step];
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
        throw error;
      }
    })
    .sort((a, b) => a - b);
}

/** Every tensor of an fp32 LoRA file, by key. */
export async function loraTensors(file: string): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(file);
  const values = new Map<string, Float32Array>();
  for (const [key, tensor] of tensors) {
    expect(tensor.dtype, key).toBe('F32');
    // A copy: the view into the file's buffer need not be 4-byte aligned.
    values.set(key, new Float32Array(Uint8Array.from(tensor.data).buffer));
  }
  return values;
}

/** torch.allclose, tensor by tensor: every value within atol + rtol × |expected|. */
export function expectSameLora(
  actual: Map<string, Float32Array>,
  expected: Map<string, Float32Array>,
  { rtol, atol }: { rtol: number; atol: number },
): void {
  expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [key, want] of expected) {
    const got = actual.get(key) as Float32Array;
    expect(got.length, key).toBe(want.length);
    const worst = want.findIndex(
      (value, i) => !(Math.abs((got[i] as number) - value) <= atol + rtol * Math.abs(value)),
    );
    expect(worst === -1 ? null : { key, index: worst, got: got[worst], want: want[worst] }).toBeNull();
  }
}

// `file.safetensors:0.7` → path and weight, for the commands that take weighted LoRAs (merge, combine).
import { UsageError } from '../errors.js';

/** A trailing `:number` is the weight (1 without one); `C:\…` paths keep their drive colon. */
export function parseWeightedPath(argument: string): { path: string; weight: number } {
  const match = /^(.+):([^:\\/]*)$/.exec(argument);
  if (!match || /^[A-Za-z]$/.test(match[1] ?? '')) return { path: argument, weight: 1 };
  const weight = Number(match[2]);
  if (match[2] === '' || !Number.isFinite(weight)) {
    throw new UsageError('the weight after `:` must be a number', {
      code: 'usage',
      culprit: argument,
      hint: 'write `lora.safetensors:0.7` (the weight defaults to 1)',
    });
  }
  return { path: match[1]!, weight };
}

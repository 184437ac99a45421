// `lora-scripts combine A[:W] B[:W]… --out FILE [--rank R]`: several LoRAs into one (exact, or cut by SVD).
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { combineLoraFiles } from '../../lora/index.js';
import { COMBINE_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';
import { parseWeightedPath } from '../weighted-path.js';
import { printReport } from './resize.js';

export async function combineCommand(
  inputs: string[],
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const { out, rank, family, layers } = parseFlags(COMBINE_FLAGS, given);
  if (inputs.length < 1)
    throw new UsageError('give the LoRAs to combine', {
      code: 'usage',
      culprit: 'combine',
      hint: '`lora-scripts combine a.safetensors:0.6 b.safetensors:0.4 --out ab.safetensors`',
    });
  const weighted = inputs.map(parseWeightedPath).map(({ path, weight }) => ({ path: resolve(ctx.cwd, path), weight }));
  const result = await combineLoraFiles({
    inputs: weighted,
    output: resolve(ctx.cwd, out),
    ...(family ? { family } : {}),
    ...(rank ? { rank } : {}),
  });
  printReport(result.report, ctx.verbose || layers);
  process.stdout.write(`${result.output}\n`);
  return 0;
}

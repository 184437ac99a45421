// `lora-scripts combine A[:W] B[:W]… --out FILE [--rank R]`: several LoRAs into one (exact, or cut by SVD).
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { combineLoraFiles } from '../../lora/index.js';
import type { CommandContext } from '../context.js';
import { parseWeightedPath } from '../weighted-path.js';
import { familyFlag, printReport, rankFlag } from './resize.js';

export async function combineCommand(inputs: string[], flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  if (typeof flags.out !== 'string') throw new UsageError('`--out FILE.safetensors` is required', { code: 'usage', culprit: 'combine' });
  if (inputs.length < 1) throw new UsageError('give the LoRAs to combine', { code: 'usage', culprit: 'combine', hint: '`lora-scripts combine a.safetensors:0.6 b.safetensors:0.4 --out ab.safetensors`' });
  const weighted = inputs.map(parseWeightedPath).map(({ path, weight }) => ({ path: resolve(ctx.cwd, path), weight }));
  const rank = flags.rank === undefined ? undefined : rankFlag(flags.rank);
  const result = await combineLoraFiles({ inputs: weighted, output: resolve(ctx.cwd, flags.out), ...familyFlag(flags), ...(rank ? { rank } : {}) });
  printReport(result.report, ctx.verbose || Boolean(flags.layers));
  process.stdout.write(result.output + '\n');
  return 0;
}

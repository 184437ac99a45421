// `lora-scripts resize LORA --out FILE --rank R | --energy E`: lowers a LoRA's rank by SVD, per layer.
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { resizeLoraFile, type RankReport } from '../../lora/index.js';
import { RESIZE_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

export async function resizeCommand(
  input: string,
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const { out, rank, energy, family, layers } = parseFlags(RESIZE_FLAGS, given);
  if (rank === undefined && energy === undefined)
    throw new UsageError('give `--rank R`, `--energy E` or both', { code: 'usage', culprit: 'resize' });
  const result = await resizeLoraFile({
    input: resolve(ctx.cwd, input),
    output: resolve(ctx.cwd, out),
    ...(family ? { family } : {}),
    ...(rank ? { rank } : {}),
    ...(energy ? { energy } : {}),
  });
  printReport(result.report, ctx.verbose || layers);
  process.stdout.write(`${result.output}\n`);
  return 0;
}

/** One line per layer (with --layers), then the summary; on stderr, since stdout carries the output path. */
export function printReport(report: readonly RankReport[], isPerLayer: boolean): void {
  if (isPerLayer)
    for (const r of report)
      process.stderr.write(`${r.name}  rank ${r.fromRank} → ${r.toRank}  energy ${(100 * r.energy).toFixed(2)} %\n`);
  const energies = report.map((r) => r.energy);
  const ranks = report.map((r) => r.toRank);
  const mean = energies.reduce((a, b) => a + b, 0) / Math.max(1, energies.length);
  process.stderr.write(
    `${report.length} modules, rank ${Math.min(...ranks)}–${Math.max(...ranks)}; kept energy per layer: min ${(100 * Math.min(...energies)).toFixed(2)} %, mean ${(100 * mean).toFixed(2)} %\n`,
  );
}

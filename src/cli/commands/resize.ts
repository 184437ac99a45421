// `lora-scripts resize LORA --out FILE --rank R | --energy E`: lowers a LoRA's rank by SVD, per layer.
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { resizeLoraFile, type BaseFamily, type RankReport } from '../../lora/index.js';
import type { CommandContext } from '../context.js';

const FAMILIES: readonly string[] = ['sd1', 'sd2', 'sdxl'];

export async function resizeCommand(input: string, flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  if (typeof flags.out !== 'string') throw new UsageError('`--out FILE.safetensors` is required', { code: 'usage', culprit: 'resize' });
  const rank = flags.rank === undefined ? undefined : rankFlag(flags.rank);
  const energy = flags.energy === undefined ? undefined : Number(flags.energy);
  if (energy !== undefined && !(energy > 0 && energy <= 1)) throw new UsageError(`\`--energy ${String(flags.energy)}\` must be a number in (0, 1]`, { code: 'usage', culprit: '--energy', hint: 'e.g. `--energy 0.95` keeps 95 % of each layer\'s ‖ΔW‖²' });
  if (rank === undefined && energy === undefined) throw new UsageError('give `--rank R`, `--energy E` or both', { code: 'usage', culprit: 'resize' });
  const result = await resizeLoraFile({ input: resolve(ctx.cwd, input), output: resolve(ctx.cwd, flags.out), ...familyFlag(flags), ...(rank ? { rank } : {}), ...(energy ? { energy } : {}) });
  printReport(result.report, ctx.verbose || Boolean(flags.layers));
  process.stdout.write(result.output + '\n');
  return 0;
}

export function rankFlag(value: unknown): number {
  const rank = Number(value);
  if (!Number.isInteger(rank) || rank < 1) throw new UsageError(`\`--rank ${String(value)}\` must be a whole number ≥ 1`, { code: 'usage', culprit: '--rank' });
  return rank;
}

export function familyFlag(flags: Record<string, unknown>): { family?: BaseFamily } {
  if (flags.family === undefined) return {};
  const family = String(flags.family);
  if (!FAMILIES.includes(family)) throw new UsageError(`\`--family ${family}\` must be one of ${FAMILIES.join(', ')}`, { code: 'usage', culprit: '--family' });
  return { family: family as BaseFamily };
}

/** One line per layer (with --layers), then the summary; on stderr, since stdout carries the output path. */
export function printReport(report: readonly RankReport[], isPerLayer: boolean): void {
  if (isPerLayer) for (const r of report) process.stderr.write(`${r.name}  rank ${r.fromRank} → ${r.toRank}  energy ${(100 * r.energy).toFixed(2)} %\n`);
  const energies = report.map((r) => r.energy);
  const ranks = report.map((r) => r.toRank);
  const mean = energies.reduce((a, b) => a + b, 0) / Math.max(1, energies.length);
  process.stderr.write(`${report.length} modules, rank ${Math.min(...ranks)}–${Math.max(...ranks)}; kept energy per layer: min ${(100 * Math.min(...energies)).toFixed(2)} %, mean ${(100 * mean).toFixed(2)} %\n`);
}

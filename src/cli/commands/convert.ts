// `lora-scripts convert FILE --to kohya|diffusers --out FILE`: rewrites a LoRA's keys for the other tools.
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { convertLoraFile, type LoraKeyFormat } from '../../lora/index.js';
import type { CommandContext } from '../context.js';

const TARGETS: readonly LoraKeyFormat[] = ['kohya', 'diffusers'];
const FAMILIES = ['sd1', 'sd2', 'sdxl'] as const;

export async function convertCommand(file: string | undefined, flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const example = 'e.g. `lora-scripts convert my.safetensors --to diffusers --out my-diffusers.safetensors`';
  if (!file) throw new UsageError('`lora-scripts convert FILE` needs a file', { code: 'usage', culprit: 'convert', hint: example });
  const to = flags.to as LoraKeyFormat;
  if (!TARGETS.includes(to)) throw new UsageError(`\`--to ${String(flags.to ?? '')}\` must be kohya or diffusers`, { code: 'usage', culprit: '--to', hint: example });
  if (typeof flags.out !== 'string') throw new UsageError('`--out FILE.safetensors` is required', { code: 'usage', culprit: 'convert', hint: example });
  const family = flags.family === undefined ? undefined : String(flags.family);
  if (family !== undefined && !FAMILIES.includes(family as (typeof FAMILIES)[number])) {
    throw new UsageError(`\`--family ${family}\` must be one of ${FAMILIES.join(', ')}`, { code: 'usage', culprit: '--family' });
  }
  const summary = await convertLoraFile({ input: resolve(ctx.cwd, file), output: resolve(ctx.cwd, flags.out), to, family: family as (typeof FAMILIES)[number] | undefined });
  process.stderr.write(`${summary.from} → ${to}: ${summary.modules} layers (${summary.family}: ${summary.familyBasis}), ${summary.tensors} tensors, A1111 hash ${summary.modelHash.slice(0, 12)}\n`);
  process.stdout.write(`${resolve(ctx.cwd, flags.out)}\n`);
  return 0;
}

// `lora-scripts make-checkpoint`: writes a random-weight base model in the real single-file layout (tests, smoke runs).
import { resolve } from 'node:path';
import { isEngineReady, runEngine, setupEngine } from '../../engine/index.js';
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';

const FAMILIES = ['sd1', 'sd2', 'sdxl'];

export async function makeCheckpointCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const family = String(flags.family ?? 'sd1');
  if (!FAMILIES.includes(family)) throw new UsageError(`\`--family ${family}\` must be one of ${FAMILIES.join(', ')}`, { code: 'usage', culprit: '--family' });
  if (typeof flags.out !== 'string') throw new UsageError('`--out FILE.safetensors` is required', { code: 'usage', culprit: 'make-checkpoint' });
  if (!isEngineReady(ctx.env)) setupEngine({ env: ctx.env, log: (l) => process.stderr.write(l + '\n') });
  const path = resolve(ctx.cwd, flags.out);
  await runEngine({ command: 'make-checkpoint', options: { family, path, full_size: Boolean(flags.fullSize), seed: Number(flags.seed ?? 0) } }, { env: ctx.env, verbose: ctx.verbose });
  process.stdout.write(path + '\n');
  return 0;
}

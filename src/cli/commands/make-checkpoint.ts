// `lora-scripts make-checkpoint`: writes a random-weight base model in the real single-file layout (tests, smoke runs).
import { resolve } from 'node:path';
import { isEngineReady, runEngine, setupEngine } from '../../engine/index.js';
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';

const FAMILIES = ['sd1', 'sd2', 'sdxl'] as const;

export async function makeCheckpointCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const family = FAMILIES.find((name) => name === String(flags.family ?? 'sd1'));
  if (!family) throw new UsageError(`\`--family ${String(flags.family)}\` must be one of ${FAMILIES.join(', ')}`, { code: 'usage', culprit: '--family' });
  if (typeof flags.out !== 'string') throw new UsageError('`--out FILE.safetensors` is required', { code: 'usage', culprit: 'make-checkpoint' });
  const seed = Number(flags.seed ?? 0);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError(`\`--seed ${String(flags.seed)}\` must be a whole number, 0 or more`, { code: 'usage', culprit: '--seed' });
  if (!isEngineReady(ctx.env)) setupEngine({ env: ctx.env, log: (l) => process.stderr.write(l + '\n') });
  const path = resolve(ctx.cwd, flags.out);
  const options = { family, path, full_size: Boolean(flags.fullSize), seed };
  await runEngine({ command: 'make-checkpoint', options }, { env: ctx.env, verbose: ctx.verbose });
  process.stdout.write(path + '\n');
  return 0;
}

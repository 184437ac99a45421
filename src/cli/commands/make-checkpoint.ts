// `lora-scripts make-checkpoint`: writes a random-weight base model in the real single-file layout (tests, smoke runs).
import { resolve } from 'node:path';
import { isEngineReady, runEngine, setupEngine } from '../../engine/index.js';
import { MAKE_CHECKPOINT_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

export async function makeCheckpointCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  // Checked before the engine is set up or started: `--seed abc` never reaches it.
  const { family, out, fullSize, seed } = parseFlags(MAKE_CHECKPOINT_FLAGS, given);
  if (!isEngineReady(ctx.env)) setupEngine({ env: ctx.env, log: (l) => process.stderr.write(`${l}\n`) });
  const path = resolve(ctx.cwd, out);
  const options = { family, path, full_size: fullSize, seed };
  await runEngine({ command: 'make-checkpoint', options }, { env: ctx.env, verbose: ctx.verbose });
  process.stdout.write(`${path}\n`);
  return 0;
}

// `lora-scripts worker --queue redis://… [--workspace DIR] [--db URL] [--device D] [--concurrency N]`: runs queued
// jobs until Ctrl-C. (Being built: see issue 18.)
import { UsageError } from '../../errors.js';
import type { CommandContext } from '../context.js';
import { WORKER_FLAGS } from '../command-flags.js';
import { parseFlags } from '../flag-values.js';

export async function workerCommand(given: Record<string, unknown>, _ctx: CommandContext): Promise<number> {
  parseFlags(WORKER_FLAGS, given);
  throw new UsageError('the worker is not built yet', { code: 'not_built', culprit: 'worker' });
}

// `lora-scripts inspect FILE`: what a LoRA file is (format, family, ranks, alphas, layers, training metadata, hashes).
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { formatInspectReport, inspectLoraFile } from '../../lora/index.js';
import { INSPECT_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

export function inspectCommand(file: string | undefined, given: Record<string, unknown>, ctx: CommandContext): number {
  const flags = parseFlags(INSPECT_FLAGS, given);
  if (!file)
    throw new UsageError('`lora-scripts inspect FILE.safetensors` needs a file', {
      code: 'usage',
      culprit: 'inspect',
      hint: 'e.g. `lora-scripts inspect output/jiangnan.safetensors --layers`',
    });
  const report = inspectLoraFile(resolve(ctx.cwd, file), { shouldHash: flags.hash });
  const shown = { ...report, file };
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(shown, null, 2)}\n`
      : `${formatInspectReport(shown, { showLayers: flags.layers })}\n`,
  );
  return 0;
}

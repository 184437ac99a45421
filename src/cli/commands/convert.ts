// `lora-scripts convert FILE --to kohya|diffusers --out FILE`: rewrites a LoRA's keys for the other tools.
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import { convertLoraFile } from '../../lora/index.js';
import { CONVERT_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

export async function convertCommand(
  file: string | undefined,
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const example = 'e.g. `lora-scripts convert my.safetensors --to diffusers --out my-diffusers.safetensors`';
  if (!file)
    throw new UsageError('`lora-scripts convert FILE` needs a file', {
      code: 'usage',
      culprit: 'convert',
      hint: example,
    });
  const { to, out, family } = parseFlags(CONVERT_FLAGS, given);
  const summary = await convertLoraFile({ input: resolve(ctx.cwd, file), output: resolve(ctx.cwd, out), to, family });
  process.stderr.write(
    `${summary.from} → ${to}: ${summary.modules} layers (${summary.family}: ${summary.familyBasis}), ${summary.tensors} tensors, A1111 hash ${summary.modelHash.slice(0, 12)}\n`,
  );
  process.stdout.write(`${resolve(ctx.cwd, out)}\n`);
  return 0;
}

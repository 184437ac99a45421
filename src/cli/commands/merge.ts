// `lora-scripts merge BASE LORA[:WEIGHT]… --out FILE`: bakes LoRAs into a single-file checkpoint (streamed).
import { resolve } from 'node:path';
import { mergeIntoBaseModel } from '../../checkpoint/index.js';
import { UsageError } from '../../errors.js';
import { MERGE_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';
import { submitToServer } from '../server-client.js';
import { parseWeightedPath } from '../weighted-path.js';

export async function mergeCommand(
  base: string,
  loras: string[],
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const flags = parseFlags(MERGE_FLAGS, given);
  if (loras.length === 0)
    throw new UsageError('give at least one LoRA after the base model', {
      code: 'usage',
      culprit: 'merge',
      hint: '`lora-scripts merge base.safetensors style.safetensors:0.8 --out merged.safetensors`',
    });
  if (flags.server !== undefined) {
    const remote = loras.map(parseWeightedPath).map(({ path, weight }) => ({ path, strength: weight }));
    const config = { base_model: base, loras: remote, output: flags.out };
    return submitToServer({ ...flags, server: flags.server }, 'merge', config);
  }
  const weighted = loras.map(parseWeightedPath).map(({ path, weight }) => ({ path: resolve(ctx.cwd, path), weight }));
  const output = resolve(ctx.cwd, flags.out);
  const started = Date.now();
  const summary = await mergeIntoBaseModel({
    base,
    cwd: ctx.cwd,
    loras: weighted,
    output,
    loraHint: `give the base checkpoint first: \`lora-scripts merge BASE.safetensors ${base}[:WEIGHT] --out MERGED.safetensors\``,
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    `merged ${summary.modules} LoRA modules into ${summary.changedTensors} weights of the ${summary.family} checkpoint (${summary.copiedTensors} tensors copied unchanged) in ${seconds} s\n`,
  );
  process.stdout.write(`${output}\n`);
  return 0;
}

// `lora-scripts recommend --config FILE`: rank, epochs, repeats, batch size and learning rate for this dataset and
// device, each with its reason; `train` applies them to the keys the config sets to `auto`.
import { autoKeysOf, readConfig } from '../../config/index.js';
import { formatRecommendation, recommendForConfig } from '../../train/index.js';
import { RECOMMEND_FLAGS } from '../command-flags.js';
import { parseFlags } from '../flag-values.js';
import { collectOverrides } from '../overrides.js';
import type { CommandContext } from '../context.js';

export async function recommendCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(RECOMMEND_FLAGS, given);
  const config = readConfig({ file: flags.config, overrides: collectOverrides({}, flags.set), cwd: ctx.cwd });
  const recommendation = await recommendForConfig({
    config,
    cwd: ctx.cwd,
    env: ctx.env,
    note: (line) => process.stderr.write(`${line}\n`),
  });
  for (const line of formatRecommendation(recommendation, autoKeysOf(config))) process.stdout.write(`${line}\n`);
  return 0;
}

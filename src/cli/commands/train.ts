// `lora-scripts train --config FILE`: load the config, run the training, print where the LoRA is.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { autoKeysOf, loadConfig, readConfig, type AutoValues, type LoadConfigOptions } from '../../config/index.js';
import { formatRecommendation, recommendForConfig, runTraining } from '../../train/index.js';
import { TRAIN_FLAGS } from '../command-flags.js';
import { parseFlags } from '../flag-values.js';
import { collectOverrides } from '../overrides.js';
import { createProgressView } from '../progress.js';
import { submitToServer } from '../server-client.js';
import type { CommandContext } from '../context.js';

export async function trainCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  // Config-key flags are checked with the config, which names the flag in its error.
  const flags = parseFlags(TRAIN_FLAGS, given);
  const source: LoadConfigOptions = { file: flags.config, overrides: collectOverrides(given, flags.set), cwd: ctx.cwd };
  if (flags.server !== undefined) return submitToServer({ ...flags, server: flags.server }, 'train', givenKeys(source));
  const config = loadConfig({ ...source, autoValues: await recommendAutoKeys(source, ctx) });
  const view = createProgressView(process.stderr);
  view.note(`training ${config.output_name} from ${config.train_data_dir}`);
  const result = await runTraining({
    config,
    env: ctx.env,
    verbose: ctx.verbose,
    onEvent: (e) => view.onEvent(e),
    note: (l) => view.note(l),
  });
  view.finish();
  if (result.stoppedEarlyBy)
    view.note(
      `stopped early at step ${result.steps} (\`early_stop: ${config.early_stop}\`, ${result.stoppedEarlyBy.code}): the LoRA of that step was saved`,
    );
  if (result.diagnostics.length)
    view.note(
      `diagnostics: ${result.diagnostics.map((d) => d.code).join(', ')} (kept in ${config.output_dir}/lora_scripts.json; README "Diagnostics" says what to do)`,
    );
  if (result.isInterrupted)
    view.note(
      `interrupted at step ${result.steps}: the LoRA trained so far was saved; add \`--resume\` to the same command to go on`,
    );
  view.note(`LoRA for WebUI / ComfyUI: ${result.loraFile}  (prompt: <lora:${config.output_name}:0.7>)`);
  view.note(`LoRA for diffusers:      ${result.diffusersFile}`);
  view.note(`TensorBoard:             tensorboard --logdir ${config.output_dir}/logs`);
  process.stdout.write(`${result.loraFile}\n`);
  return result.isInterrupted ? 130 : 0;
}

/** The keys the config file and the flags set, checked here as `train` checks them; the server fills in the rest. */
function givenKeys(source: LoadConfigOptions): Record<string, unknown> {
  const parsed = readConfig(source);
  const fileKeys = source.file
    ? Object.keys((parseYaml(readFileSync(source.file, 'utf8')) as object | null) ?? {})
    : [];
  const keys = new Set([...fileKeys, ...(source.overrides ?? []).map((override) => override.key)]);
  return Object.fromEntries([...keys].map((key) => [key, parsed[key as keyof typeof parsed]]));
}

/** Recommendations for the keys the config sets to `auto`, printed with their reasons (nothing runs without `auto`). */
async function recommendAutoKeys(source: LoadConfigOptions, ctx: CommandContext): Promise<AutoValues | undefined> {
  const parsed = readConfig(source);
  const keys = autoKeysOf(parsed);
  if (keys.length === 0) return undefined;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  const recommendation = await recommendForConfig({ config: parsed, cwd: ctx.cwd, env: ctx.env, note: say });
  for (const line of formatRecommendation(recommendation, keys, true)) say(`auto ${line}`);
  return recommendation.values;
}

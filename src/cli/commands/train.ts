// `lora-scripts train --config FILE`: load the config, run the training, print where the LoRA is.
import { loadConfig } from '../../config/index.js';
import { runTraining } from '../../train/index.js';
import { collectOverrides } from '../overrides.js';
import { createProgressView } from '../progress.js';
import type { CommandContext } from '../context.js';

export async function trainCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const config = loadConfig({ file: flags.config as string | undefined, overrides: collectOverrides(flags), cwd: ctx.cwd });
  const view = createProgressView(process.stderr);
  view.note(`training ${config.output_name} from ${config.train_data_dir}`);
  const result = await runTraining({ config, env: ctx.env, verbose: ctx.verbose, onEvent: (e) => view.onEvent(e), note: (l) => view.note(l) });
  view.finish();
  if (result.isInterrupted) view.note(`interrupted at step ${result.steps}: the LoRA trained so far was saved; add \`--resume\` to the same command to go on`);
  view.note(`LoRA for WebUI / ComfyUI: ${result.loraFile}  (prompt: <lora:${config.output_name}:0.7>)`);
  view.note(`LoRA for diffusers:      ${result.diffusersFile}`);
  view.note(`TensorBoard:             tensorboard --logdir ${config.output_dir}/logs`);
  process.stdout.write(result.loraFile + '\n');
  return result.isInterrupted ? 130 : 0;
}

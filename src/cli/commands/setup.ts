// `lora-scripts setup` and `lora-scripts doctor`: the engine's virtualenv and a health report.
import { detectTorchBuild, engineVenvDir, isEngineReady, runEngine, setupEngine } from '../../engine/index.js';
import { EngineError } from '../../errors.js';
import { SETUP_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { parseFlags } from '../flag-values.js';

export function setupCommand(given: Record<string, unknown>, ctx: CommandContext): number {
  const flags = parseFlags(SETUP_FLAGS, given);
  const result = setupEngine({
    env: ctx.env,
    withTests: flags.withTests,
    force: flags.force,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  process.stderr.write(
    result.changed
      ? `engine ready (torch ${result.torchBuild}: ${result.reason})\n`
      : `engine up to date: ${result.venv}\n`,
  );
  return 0;
}

export async function doctorCommand(_flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const venv = engineVenvDir(ctx.env);
  if (!isEngineReady(ctx.env)) {
    throw new EngineError(`the engine is not installed or out of date (${venv})`, {
      code: 'engine_not_ready',
      culprit: 'engine',
      hint: 'run `lora-scripts setup`',
    });
  }
  const result = await runEngine({ command: 'doctor' }, { env: ctx.env, verbose: ctx.verbose });
  const info = result.events.find((e) => e.type === 'info');
  const data = info?.type === 'info' ? info.data : {};
  const rows = [
    'python',
    'torch',
    'diffusers',
    'peft',
    'transformers',
    'device',
    'gpu',
    'gpu_memory_gb',
    'cuda_version',
    'cpu_threads',
  ];
  process.stdout.write(`engine venv   ${venv}\n`);
  for (const key of rows)
    if (data[key] !== null && data[key] !== undefined) process.stdout.write(`${key.padEnd(13)} ${String(data[key])}\n`);
  const problems: string[] = [];
  const machine = detectTorchBuild(ctx.env);
  if (machine.build === 'cuda' && data.cuda_available !== true)
    problems.push(`${machine.reason}, but torch cannot use it: run \`lora-scripts setup --force\``);
  if (data.device === 'cpu')
    problems.push('no GPU: training runs on the CPU (fine for the demo; slow for 512 px SD models)');
  for (const p of problems) process.stdout.write(`note: ${p}\n`);
  return 0;
}

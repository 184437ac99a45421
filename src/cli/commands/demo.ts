// `lora-scripts demo-data` writes sample pictures; `lora-scripts demo` trains on them end to end.
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { parseStyleNames, writeSampleDataset } from '../../demo/index.js';
import { makeCheckpointCommand } from './make-checkpoint.js';
import { trainCommand } from './train.js';
import type { CommandContext } from '../context.js';

/** Writes `count` sample scenes per style (`style` may be `all`) into one folder with a `metadata.csv`. */
export async function writeDemoData(dir: string, style: string, count: number, seed: number, sizePx: number): Promise<string[]> {
  const { files } = await writeSampleDataset({ dir, styles: parseStyleNames(style), count, seed, sizePx });
  return files;
}

export async function demoDataCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const dir = resolve(ctx.cwd, String(flags.out));
  const files = await writeDemoData(dir, String(flags.style), Number(flags.count), Number(flags.seed), Number(flags.size));
  process.stderr.write(`demo-data: ${files.length} images (${String(flags.style)}, ${Number(flags.size)} px, seed ${Number(flags.seed)}) and metadata.csv\n`);
  process.stdout.write(dir + '\n');
  return 0;
}

export async function demoCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const out = resolve(ctx.cwd, String(flags.out));
  const dataDir = join(out, 'data');
  const model = join(out, 'tiny-sd1.safetensors');
  process.stderr.write(`demo: sample data in ${dataDir}, tiny random-weight SD 1.x base model ${model}\n`);
  await writeDemoData(dataDir, 'jiangnan', 12, 0, 64);
  await makeCheckpointCommand({ family: 'sd1', out: model, seed: 0 }, ctx);
  return trainCommand({ config: join(PACKAGE_ROOT, 'configs', 'demo.yaml'), set: [`train_data_dir=${dataDir}`, `base_model=${model}`, `output_dir=${join(out, 'jiangnan_style')}`] }, ctx);
}

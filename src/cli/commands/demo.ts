// `lora-scripts demo-data` writes sample pictures; `lora-scripts demo` trains on them end to end.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { UsageError } from '../../errors.js';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { drawScene, STYLES } from '../../demo/scenes.js';
import { makeCheckpointCommand } from './make-checkpoint.js';
import { trainCommand } from './train.js';
import type { CommandContext } from '../context.js';

export async function writeDemoData(dir: string, style: string, count: number, seed: number, sizePx: number): Promise<void> {
  const chosen = STYLES[style];
  if (!chosen) throw new UsageError(`unknown style \`${style}\``, { code: 'usage', culprit: '--style', hint: `choose one of ${Object.keys(STYLES).join(', ')}` });
  mkdirSync(dir, { recursive: true });
  const rows = ['file_name,caption'];
  for (let i = 0; i < count; i++) {
    const scene = drawScene(chosen, seed * 1000 + i, sizePx);
    const name = `${style}_${String(i).padStart(3, '0')}.png`;
    writeFileAtomic(join(dir, name), await sharp(Buffer.from(scene.svg)).resize(sizePx, sizePx).png().toBuffer());
    rows.push(`${name},"${scene.caption}"`);
  }
  writeFileAtomic(join(dir, 'metadata.csv'), rows.join('\n') + '\n');
}

export async function demoDataCommand(flags: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const dir = resolve(ctx.cwd, String(flags.out));
  await writeDemoData(dir, String(flags.style), Number(flags.count), Number(flags.seed), Number(flags.size));
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

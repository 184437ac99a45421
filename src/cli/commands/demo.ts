// `lora-scripts demo-data` writes sample pictures; `lora-scripts demo` trains the jiangnan style end to end on the
// shipped demo base model, renders a strength grid and prints a style score per strength.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig } from '../../config/index.js';
import { parseStyleNames, writeSampleDataset } from '../../demo/index.js';
import { PACKAGE_ROOT } from '../../engine/index.js';
import { UsageError } from '../../errors.js';
import { renderStrengths, writeStrengthGrid } from '../../generate/index.js';
import { buildReferenceClassifier, featuresOfImage, styleScore } from '../../style/index.js';
import { runTraining } from '../../train/index.js';
import { DEMO_DATA_FLAGS, DEMO_FLAGS } from '../command-flags.js';
import { parseFlags } from '../flag-values.js';
import { collectOverrides } from '../overrides.js';
import { createProgressView } from '../progress.js';
import type { CommandContext } from '../context.js';

export async function writeDemoData(
  dir: string,
  style: string,
  count: number,
  seed: number,
  sizePx: number,
): Promise<void> {
  await writeSampleDataset({ dir, styles: parseStyleNames(style), count, seed, sizePx });
}

export async function demoDataCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(DEMO_DATA_FLAGS, given);
  const dir = resolve(ctx.cwd, flags.out);
  await writeDemoData(dir, flags.style, flags.count, flags.seed, flags.size);
  process.stdout.write(`${dir}\n`);
  return 0;
}

export const DEMO_BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const DEMO_CONFIG = join(PACKAGE_ROOT, 'examples', 'jiangnan_demo.yaml');
const DEMO_STRENGTHS = [0, 0.5, 0.7, 1];
const DEMO_PROMPTS = [
  'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning',
  'two houses and a boat, canal town scene, jiangnan style with white walls and black tiles, overcast noon',
];

export async function demoCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(DEMO_FLAGS, given);
  if (!existsSync(DEMO_BASE_MODEL)) {
    throw new UsageError(`the demo base model is missing: ${DEMO_BASE_MODEL}`, {
      code: 'demo_model_missing',
      culprit: 'lora-scripts demo',
      hint: 'it ships with the repository; restore it with `git checkout models/`',
    });
  }
  const out = resolve(ctx.cwd, flags.out);
  const view = createProgressView(process.stderr);
  const dataDir = join(out, 'data');
  view.note(`demo: 40 sample jiangnan pictures in ${dataDir}`);
  await writeDemoData(dataDir, 'jiangnan', 40, 0, 64);
  const config = loadConfig({
    file: DEMO_CONFIG,
    cwd: ctx.cwd,
    overrides: [
      { key: 'train_data_dir', value: dataDir, source: 'demo' },
      { key: 'base_model', value: DEMO_BASE_MODEL, source: 'demo' },
      { key: 'output_dir', value: join(out, 'jiangnan_style'), source: 'demo' },
      ...collectOverrides({}, flags.set),
    ],
  });
  const trained = await runTraining({
    config,
    env: ctx.env,
    verbose: ctx.verbose,
    onEvent: (e) => view.onEvent(e),
    note: (l) => view.note(l),
  });
  view.finish();
  view.note(`rendering ${DEMO_PROMPTS.length} prompts × 2 seeds at LoRA strengths ${DEMO_STRENGTHS.join(', ')}`);
  const images = await renderStrengths({
    baseModel: DEMO_BASE_MODEL,
    lora: trained.diffusersFile,
    prompts: DEMO_PROMPTS,
    seeds: [1, 2],
    strengths: DEMO_STRENGTHS,
    sizePx: 64,
    steps: 25,
    guidanceScale: 5,
    outDir: join(out, 'grid'),
    env: ctx.env,
    verbose: ctx.verbose,
  });
  const gridPath = join(out, 'jiangnan_grid.png');
  await writeStrengthGrid(images, gridPath, 128);
  const classifier = await buildReferenceClassifier({ target: 'jiangnan' });
  view.note(`LoRA:        ${trained.loraFile}`);
  view.note(`TensorBoard: tensorboard --logdir ${config.output_dir}/logs`);
  view.note(`grid:        ${gridPath} (columns: strength ${DEMO_STRENGTHS.join(', ')})`);
  for (const strength of DEMO_STRENGTHS) {
    const features = await Promise.all(
      images.filter((i) => i.strength === strength).map((i) => featuresOfImage(i.path)),
    );
    process.stdout.write(
      `strength ${strength.toFixed(1)}  style score ${styleScore(classifier, 'jiangnan', features).toFixed(2)}\n`,
    );
  }
  return 0;
}

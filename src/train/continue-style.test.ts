// `init_lora` end to end on the shipped demo model: a jiangnan LoRA continued on a few northern_snow pictures moves
// the style score toward snow and keeps most of its jiangnan style. (bench/continue-style.mjs also tries mixed data.)
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import { renderStrengths } from '../generate/index.js';
import { buildReferenceClassifier, featuresOfImage, styleScore, type StyleClassifier } from '../style/index.js';

const DEMO_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const PROMPTS = {
  jiangnan:
    'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning',
  northern_snow:
    'two houses and a red lantern, snowy courtyard scene, northern snow style with red walls and snowy roofs, snowy afternoon',
} as const;
type Style = keyof typeof PROMPTS;

function cli(args: string[], cwd: string): void {
  const result = spawnSync('node', [join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs'), ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  expect(result.status, result.stderr).toBe(0);
}

const TRAIN = [
  '--base-model',
  DEMO_MODEL,
  '--resolution',
  '64',
  '--lora-rank',
  '8',
  '--target-modules',
  'attention+ff+conv',
  '--batch-size',
  '4',
  '--seed',
  '1',
];

/** Style scores of the jiangnan prompt (jiangnan score) and the snow prompt (snow score) at each strength. */
async function scores(
  lora: string,
  strengths: number[],
  outDir: string,
  classifiers: Record<Style, StyleClassifier>,
): Promise<Map<number, Record<Style, number>>> {
  const images = await renderStrengths({
    baseModel: DEMO_MODEL,
    lora,
    prompts: Object.values(PROMPTS),
    seeds: [1, 2],
    strengths,
    sizePx: 64,
    steps: 20,
    guidanceScale: 5,
    outDir,
    env: process.env,
    verbose: false,
  });
  const result = new Map<number, Record<Style, number>>();
  for (const strength of strengths) {
    const row = {} as Record<Style, number>;
    for (const [index, style] of (Object.keys(PROMPTS) as Style[]).entries()) {
      const features = await Promise.all(
        images.filter((i) => i.strength === strength && i.promptIndex === index).map((i) => featuresOfImage(i.path)),
      );
      row[style] = styleScore(classifiers[style], style, features);
    }
    result.set(strength, row);
  }
  return result;
}

describe('continuing a LoRA (init_lora)', () => {
  it('moves the style toward the new pictures and keeps most of the old style', async () => {
    const root = mkdtempSync(join(tmpdir(), 'continue-style-'));
    cli(['demo-data', '--style', 'jiangnan', '--count', '8', '--out', join(root, 'jiangnan')], root);
    cli(['demo-data', '--style', 'northern_snow', '--count', '8', '--seed', '1', '--out', join(root, 'snow')], root);
    cli(
      [
        'train',
        ...TRAIN,
        '--train-data-dir',
        join(root, 'jiangnan'),
        '--epochs',
        '12',
        '--learning-rate',
        '2e-3',
        '--output-dir',
        join(root, 'parent'),
      ],
      root,
    );
    const parentFile = join(root, 'parent', 'parent.safetensors');
    cli(
      [
        'train',
        ...TRAIN,
        '--train-data-dir',
        join(root, 'snow'),
        '--epochs',
        '4',
        '--learning-rate',
        '5e-4',
        '--init-lora',
        parentFile,
        '--output-dir',
        join(root, 'child'),
      ],
      root,
    );

    const classifiers = {
      jiangnan: await buildReferenceClassifier({ target: 'jiangnan' }),
      northern_snow: await buildReferenceClassifier({ target: 'northern_snow' }),
    };
    const parentScores = await scores(
      join(root, 'parent', 'pytorch_lora_weights.safetensors'),
      [0, 1],
      join(root, 'render-parent'),
      classifiers,
    );
    const base = parentScores.get(0)!;
    const parent = parentScores.get(1)!;
    const child = (
      await scores(
        join(root, 'child', 'pytorch_lora_weights.safetensors'),
        [1],
        join(root, 'render-child'),
        classifiers,
      )
    ).get(1)!;
    // Measured: jiangnan 0.035 base → 0.861 parent → 0.795 child; snow 0.953 base → 0.802 parent → 0.973 child.
    expect(parent.jiangnan - base.jiangnan).toBeGreaterThan(0.4); // the parent learned its style
    expect(child.northern_snow - parent.northern_snow).toBeGreaterThan(0.05); // toward the new pictures
    expect(child.jiangnan - base.jiangnan).toBeGreaterThan(0.6 * (parent.jiangnan - base.jiangnan)); // most of the old style stays
  });
});

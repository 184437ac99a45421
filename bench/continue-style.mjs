// Continue a LoRA on new pictures (`init_lora`): how far the style score moves toward the new set and how much of
// the old style stays. Trains a jiangnan LoRA on the demo model, continues it on northern_snow pictures (alone and
// mixed with the jiangnan ones), renders each at strength 1 and prints the style scores as JSON.
// `npm run build && node bench/continue-style.mjs [workdir]` — minutes of CPU; never run by the tests.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');
const { renderStrengths } = await import(join(ROOT, 'dist/generate/index.js'));
const { buildReferenceClassifier, featuresOfImage, styleScore } = await import(join(ROOT, 'dist/style/index.js'));
const DEMO = join(ROOT, 'models/demo-sd1.safetensors');
const work = resolve(process.argv[2] ?? join(tmpdir(), `continue-style-${Date.now()}`));
mkdirSync(work, { recursive: true });

function cli(...args) {
  const result = spawnSync('node', [join(ROOT, 'bin/lora-scripts.mjs'), ...args], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  if (result.status !== 0) throw new Error(`lora-scripts ${args.join(' ')} failed:\n${result.stderr}`);
}

/** Copies a demo-data folder into `dest` with a `.txt` caption per image, so two styles can share one folder. */
function withTxtCaptions(source, dest) {
  mkdirSync(dest, { recursive: true });
  for (const line of readFileSync(join(source, 'metadata.csv'), 'utf8').trim().split('\n').slice(1)) {
    const [file, ...rest] = line.split(',');
    copyFileSync(join(source, file), join(dest, file));
    writeFileSync(join(dest, file.replace(/\.png$/, '.txt')), rest.join(',').replace(/^"|"$/g, ''));
  }
}

cli('demo-data', '--style', 'jiangnan', '--count', '8', '--out', join(work, 'jiangnan'));
cli('demo-data', '--style', 'northern_snow', '--count', '8', '--seed', '1', '--out', join(work, 'snow'));
withTxtCaptions(join(work, 'jiangnan'), join(work, 'mixed', 'jiangnan'));
withTxtCaptions(join(work, 'snow'), join(work, 'mixed', 'snow'));

const common = [
  '--base-model',
  DEMO,
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
const started = Date.now();
cli(
  'train',
  ...common,
  '--train-data-dir',
  join(work, 'jiangnan'),
  '--epochs',
  '12',
  '--learning-rate',
  '2e-3',
  '--output-dir',
  join(work, 'parent'),
);
const parent = join(work, 'parent', 'parent.safetensors');
const runs = {
  snow: ['--train-data-dir', join(work, 'snow'), '--epochs', '4', '--learning-rate', '5e-4'],
  mixed: [
    '--train-data-dir',
    join(work, 'mixed'),
    '--metadata-path',
    'null',
    '--epochs',
    '2',
    '--learning-rate',
    '5e-4',
  ],
};
for (const [name, args] of Object.entries(runs))
  cli('train', ...common, ...args, '--init-lora', parent, '--output-dir', join(work, name));
const trainingS = (Date.now() - started) / 1000;

const prompts = {
  jiangnan:
    'three houses and a stone bridge, canal town scene, jiangnan style with white walls and black tiles, misty morning',
  northern_snow:
    'two houses and a red lantern, snowy courtyard scene, northern snow style with red walls and snowy roofs, snowy afternoon',
};
const classifiers = {
  jiangnan: await buildReferenceClassifier({ target: 'jiangnan' }),
  northern_snow: await buildReferenceClassifier({ target: 'northern_snow' }),
};
const scores = {};
for (const name of ['parent', 'snow', 'mixed']) {
  const images = await renderStrengths({
    baseModel: DEMO,
    lora: join(work, name, 'pytorch_lora_weights.safetensors'),
    prompts: Object.values(prompts),
    seeds: [1, 2],
    strengths: [0, 1],
    sizePx: 64,
    steps: 20,
    guidanceScale: 5,
    outDir: join(work, `render-${name}`),
    env: process.env,
    verbose: false,
  });
  for (const strength of [0, 1]) {
    const row = {};
    scores[strength === 0 ? 'base model' : name] = row;
    for (const [index, style] of Object.keys(prompts).entries()) {
      const features = await Promise.all(
        images.filter((i) => i.strength === strength && i.promptIndex === index).map((i) => featuresOfImage(i.path)),
      );
      row[style] = Number(styleScore(classifiers[style], style, features).toFixed(3));
    }
  }
}
console.log(JSON.stringify({ work, training_s: Math.round(trainingS), scores }, null, 2));

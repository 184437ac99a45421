// `generate` end to end on the shipped demo base model with the two fixture LoRAs
// (tests/fixtures/lora/styles/README.md): zero, one and two LoRAs move the style score the expected way; the base
// model loads once while LoRAs switch; the PNG's WebUI parameters read back into the same settings and re-render
// the same pixels.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../engine/index.js';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { buildReferenceClassifier, featuresOfImage, styleScore, type StyleClassifier } from '../style/index.js';
import { parseParametersText, PARAMETERS_KEY, readPngText, type GenerationParameters } from './png-parameters.js';
import { runGeneration, type GenerateOptions, type GenerationResult } from './run.js';

const BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const FIXTURES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles');
const CLI = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
const SCENE = 'three houses and a stone bridge, canal town scene';
// The machine running the tests is shared: one torch thread avoids OpenMP spin-waiting on busy cores (measured
// 20× slower with 2 threads under load). Same thread count in every run, so pixel comparisons are unaffected.
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

function options(overrides: Partial<GenerateOptions>): GenerateOptions {
  return {
    prompts: [SCENE],
    negativePrompt: '',
    loraFiles: [],
    loraDirs: [FIXTURES],
    baseModel: BASE_MODEL,
    seed: 11,
    steps: 12,
    cfgScale: 5,
    sampler: 'DPM++ 2M',
    scheduleType: 'Automatic',
    width: 64,
    height: 64,
    batchCount: 1,
    batchSize: 2,
    outDir: mkdtempSync(join(tmpdir(), 'generate-')),
    env: ENV,
    verbose: false,
    note: () => undefined,
    ...overrides,
  };
}

interface Score {
  jiangnan: number;
  neon: number;
}

async function meanScore(
  classifier: StyleClassifier,
  style: 'jiangnan' | 'neon_night',
  paths: string[],
): Promise<number> {
  return styleScore(classifier, style, await Promise.all(paths.map((p) => featuresOfImage(p))));
}

function parametersOf(path: string): GenerationParameters {
  return parseParametersText(readPngText(readFileSync(path), path).get(PARAMETERS_KEY)!, path);
}

async function pixels(path: string): Promise<Buffer> {
  return sharp(path).raw().toBuffer();
}

/** The mode of a plain new file here (0644 under umask 022): every output must have it, readable by other users. */
function ordinaryFileMode(): number {
  const probe = join(mkdtempSync(join(tmpdir(), 'mode-')), 'probe');
  writeFileSync(probe, '');
  return statSync(probe).mode & 0o777;
}

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('generate', () => {
  let run: GenerationResult;
  const events: EngineEvent[] = [];
  const byPrompt = (i: number) => run.images.slice(2 * i, 2 * i + 2).map((image) => image.path);

  beforeAll(async () => {
    run = await runGeneration(
      options({
        prompts: [
          SCENE,
          `${SCENE}, <lora:jiangnan_style:0.6>`,
          `${SCENE}, <lora:neon_night_style:1.5>`,
          `${SCENE}, <lora:jiangnan_style:0.6>, <lora:neon_night_style:1.5>`,
          SCENE,
          `${SCENE}, <lora:neon_night_style:1:0>`,
        ],
        onEvent: (event) => events.push(event),
      }),
    );
  });

  it('loads the base model once and each LoRA once while switching between them', () => {
    const stages = events
      .filter((e) => e.type === 'stage')
      .map((e) => `${e.name} ${e.message.replace(FIXTURES, 'fixtures')}`);
    expect(stages).toEqual([
      `load_base_model ${BASE_MODEL}`,
      'load_lora fixtures/jiangnan_style.safetensors',
      'load_lora fixtures/neon_night_style.safetensors',
    ]);
    expect(run.images).toHaveLength(12);
  });

  it('zero, one and two LoRAs move the style scores the expected way', async () => {
    const [jiangnan, neon] = await Promise.all([
      buildReferenceClassifier({ target: 'jiangnan' }),
      buildReferenceClassifier({ target: 'neon_night' }),
    ]);
    const scores = await Promise.all(
      [0, 1, 2, 3].map(async (i) => ({
        jiangnan: await meanScore(jiangnan, 'jiangnan', byPrompt(i)),
        neon: await meanScore(neon, 'neon_night', byPrompt(i)),
      })),
    );
    const [none, jiangnanOnly, neonOnly, both] = scores as [Score, Score, Score, Score];
    // Measured (jiangnan / neon_night score, seeds 11 and 12): none 0.16 / 0.00, jiangnan 0.6 → 0.55 / 0.00,
    // neon 1.5 → 0.00 / 0.95, both → 0.24 / 0.49. A LoRA that is not applied leaves every row equal to none.
    expect(jiangnanOnly.jiangnan - none.jiangnan).toBeGreaterThan(0.25);
    expect(neonOnly.neon - none.neon).toBeGreaterThan(0.5);
    // Stacked: each LoRA adds its style to what the other one makes.
    expect(both.jiangnan - neonOnly.jiangnan).toBeGreaterThan(0.12);
    expect(both.neon - jiangnanOnly.neon).toBeGreaterThan(0.25);
  });

  it('after LoRA images, an image without LoRAs is the base model again, bit for bit; UNet weight 0 is no LoRA', async () => {
    for (const later of [byPrompt(4), byPrompt(5)]) {
      expect(await pixels(later[0]!)).toEqual(await pixels(byPrompt(0)[0]!));
      expect(await pixels(later[1]!)).toEqual(await pixels(byPrompt(0)[1]!));
    }
    expect(await pixels(byPrompt(1)[0]!)).not.toEqual(await pixels(byPrompt(0)[0]!));
  });

  it('writes WebUI parameters that read back into the settings', () => {
    const second = run.images[3]!; // the jiangnan prompt's second image: seed 12
    const stored = parametersOf(second.path);
    expect(stored).toEqual(second.parameters);
    expect(stored).toMatchObject({
      prompt: `${SCENE}, <lora:jiangnan_style:0.6>`,
      seed: 12,
      steps: 12,
      cfgScale: 5,
      sampler: 'DPM++ 2M',
      width: 64,
      height: 64,
      model: 'demo-sd1',
    });
    expect(stored.loraHashes).toEqual([{ name: 'jiangnan_style', hash: expect.stringMatching(/^[0-9a-f]{12}$/) }]);
  });

  it('`generate --from-png` re-renders the same pixels, with the base model from lora_scripts.json beside the LoRA', async () => {
    const original = run.images[3]!.path; // the second image of a batch of two, made again on its own
    const loraDir = mkdtempSync(join(tmpdir(), 'generate-lora-'));
    copyFileSync(join(FIXTURES, 'jiangnan_style.safetensors'), join(loraDir, 'jiangnan_style.safetensors'));
    writeFileSync(
      join(loraDir, 'lora_scripts.json'),
      JSON.stringify({ config: { output_name: 'jiangnan_style' }, base_model: { path: BASE_MODEL } }),
    );
    const out = mkdtempSync(join(tmpdir(), 'generate-cli-'));
    const again = spawnSync('node', [CLI, 'generate', '--from-png', original, '--lora-dir', loraDir, '--out', out], {
      encoding: 'utf8',
      env: ENV,
    });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toContain(
      `base model: ${BASE_MODEL} (recorded in lora_scripts.json beside jiangnan_style.safetensors)`,
    );
    const copy = again.stdout.trim();
    expect(parametersOf(copy)).toEqual(parametersOf(original));
    // Bit for bit: on the CPU the engine renders a batch one image at a time (engine generate.py, render_batch).
    expect(await pixels(copy)).toEqual(await pixels(original));
    expect([modeOf(copy), modeOf(original)]).toEqual([ordinaryFileMode(), ordinaryFileMode()]);
  });
});

describe('lora-scripts generate', () => {
  it('an unknown LoRA name is one error naming the folders searched and the close names', () => {
    const result = spawnSync(
      'node',
      [
        CLI,
        'generate',
        '--prompt',
        `${SCENE}, <lora:jiangnan_stlye:0.7>`,
        '--lora-dir',
        FIXTURES,
        '--base-model',
        BASE_MODEL,
      ],
      { encoding: 'utf8', env: ENV },
    );
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(
      new RegExp(
        `^error: --prompt: no LoRA named \`jiangnan_stlye\` in \`${FIXTURES}\` \\(\\d+ LoRA files there\\)\n\nhint: did you mean \`jiangnan_style\`\\?\n$`,
      ),
    );
  });
});

describe('generate with a merged checkpoint', () => {
  it('matches generate with the LoRA at the weight it was merged at (within 0.1/255 mean and 2/255 max per pixel)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'generate-merged-'));
    const merged = join(dir, 'demo-jiangnan-0.7.safetensors');
    const merge = spawnSync(
      'node',
      [CLI, 'merge', BASE_MODEL, `${join(FIXTURES, 'jiangnan_style.safetensors')}:0.7`, '--out', merged],
      { encoding: 'utf8', env: ENV },
    );
    expect(merge.status, merge.stderr).toBe(0);
    expect(modeOf(merged)).toBe(ordinaryFileMode());
    const withLora = await runGeneration(options({ prompts: [`${SCENE}, <lora:jiangnan_style:0.7>`] }));
    const baked = await runGeneration(options({ prompts: [SCENE], baseModel: merged }));
    const plain = await runGeneration(options({ prompts: [SCENE] }));
    for (let i = 0; i < 2; i++) {
      const [a, b, base] = await Promise.all([
        pixels(withLora.images[i]!.path),
        pixels(baked.images[i]!.path),
        pixels(plain.images[i]!.path),
      ]);
      const diff = (x: Buffer, y: Buffer) => x.reduce((sum, v, j) => sum + Math.abs(v - y[j]!), 0) / x.length;
      const maxDiff = a.reduce((m, v, j) => Math.max(m, Math.abs(v - b[j]!)), 0);
      // The merged weights are rounded to the checkpoint's fp16; the LoRA path adds the same change in fp32.
      // Measured: mean 0.004–0.005, max 1 (of 255) between the two; the LoRA itself moves pixels by 28–33 on average.
      expect(diff(a, b)).toBeLessThan(0.1);
      expect(maxDiff).toBeLessThanOrEqual(2);
      expect(diff(a, base)).toBeGreaterThan(10);
    }
  });
});

// Bad input through the real CLI: non-zero exit, one line naming the culprit, no traceback, no output left behind.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');

function cli(args: string[], cwd: string) {
  const result = spawnSync('node', [BIN, ...args], { cwd, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  const errorLines = result.stderr.split('\n').filter((line) => line.startsWith('error:'));
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, errorLines, firstLine: errorLines[0] };
}

async function writeImages(dir: string, count: number): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const rows = ['file_name,caption'];
  for (let i = 0; i < count; i++) {
    const png = await sharp({
      create: { width: 64, height: 64, channels: 3, background: { r: 40 * i, g: 100, b: 200 } },
    })
      .png()
      .toBuffer();
    writeFileSync(join(dir, `img_${i}.png`), png);
    rows.push(`img_${i}.png,"stone bridge, canal, test style"`);
  }
  writeFileSync(join(dir, 'metadata.csv'), `${rows.join('\n')}\n`);
}

let root: string;
let model: string;

function configText(overrides: Record<string, string> = {}): string {
  const values: Record<string, string> = {
    train_data_dir: join(root, 'data'),
    metadata_path: join(root, 'data', 'metadata.csv'),
    base_model: model,
    lora_rank: '16',
    lora_alpha: '32',
    target_modules: '[q_proj, v_proj]',
    batch_size: '4',
    epochs: '15',
    learning_rate: '2e-4',
    output_dir: join(root, 'out', 'style'),
    save_steps: '100',
    ...overrides,
  };
  return `${Object.entries(values)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n')}\n`;
}

function train(name: string, text: string) {
  const file = join(root, `${name}.yaml`);
  writeFileSync(file, text);
  return cli(['train', '--config', file], root);
}

function expectCleanFailure(result: ReturnType<typeof cli>, firstLine: string) {
  expect(result.firstLine).toBe(firstLine);
  expect(result.errorLines).toHaveLength(1);
  expect(result.code).not.toBe(0);
  expect(result.stderr).not.toMatch(/Traceback|\n\s+at /);
  expect(existsSync(join(root, 'out'))).toBe(false);
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lora-scripts-errors-'));
  await writeImages(join(root, 'data'), 4);
  model = join(root, 'base.safetensors');
  const made = cli(['make-checkpoint', '--family', 'sd1', '--out', model], root);
  expect(made.code, made.stderr).toBe(0);
});

describe('train: bad input', () => {
  it('unknown key', () => {
    const result = train('unknown', configText().replace('lora_rank', 'lora_rnak'));
    expectCleanFailure(result, `error: ${root}/unknown.yaml:4:1: \`lora_rnak\` is not a config key`);
    expect(result.stderr).toContain('hint: did you mean `lora_rank`?');
  });

  it('wrong type', () => {
    expectCleanFailure(
      train('type', configText({ batch_size: 'four' })),
      `error: ${root}/type.yaml:7:13: \`batch_size\` must be an integer from 1 to 512 or \`auto\`, got \`"four"\``,
    );
  });

  it('missing folder', () => {
    expectCleanFailure(
      train('nofolder', configText({ train_data_dir: join(root, 'nope'), metadata_path: 'null' })),
      `error: ${root}/nofolder.yaml: \`train_data_dir\` folder not found: ${join(root, 'nope')}`,
    );
  });

  it('missing base model', () => {
    expectCleanFailure(
      train('nomodel', configText({ base_model: join(root, 'missing.safetensors') })),
      `error: ${root}/nomodel.yaml: \`base_model\` not found: ${join(root, 'missing.safetensors')}`,
    );
  });

  it('empty dataset', () => {
    mkdirSync(join(root, 'empty'));
    const result = train('empty', configText({ train_data_dir: join(root, 'empty'), metadata_path: 'null' }));
    expectCleanFailure(
      result,
      `error: ${join(root, 'empty')}: no images found (looked for .png .jpg .jpeg .webp .bmp .tif .tiff)`,
    );
  });

  it('image without caption', async () => {
    const dir = join(root, 'uncaptioned');
    await writeImages(dir, 3);
    writeFileSync(
      join(dir, 'metadata.csv'),
      `${readFileSync(join(dir, 'metadata.csv'), 'utf8').split('\n').slice(0, 3).join('\n')}\n`,
    );
    const result = train('uncaptioned', configText({ train_data_dir: dir, metadata_path: join(dir, 'metadata.csv') }));
    expectCleanFailure(
      result,
      `error: ${join(dir, 'img_2.png')}: image has no caption in ${join(dir, 'metadata.csv')}`,
    );
  });

  it('unreadable image', async () => {
    const dir = join(root, 'broken');
    await writeImages(dir, 2);
    const png = readFileSync(join(dir, 'img_1.png'));
    writeFileSync(join(dir, 'img_1.png'), png.subarray(0, Math.floor(png.length / 2)));
    const result = train('broken', configText({ train_data_dir: dir, metadata_path: join(dir, 'metadata.csv') }));
    expect(result.firstLine).toMatch(new RegExp(`^error: ${join(dir, 'img_1.png')}: cannot be read as an image \\(`));
    expectCleanFailure(result, result.firstLine!);
    expect(readFileSync(join(dir, 'img_1.png')).length).toBe(Math.floor(png.length / 2));
  });

  it('target modules that match nothing (found by the engine)', () => {
    const result = train('targets', configText({ target_modules: '[q_proj, fc9]' }));
    expectCleanFailure(result, 'error: target_modules[1]: `fc9` matches no Linear or Conv2d layer of this base model');
    expect(result.stderr).toContain('hint: use a preset such as `attention`');
  });

  it('a text-encoder-only target while the text encoder is not trained', () => {
    const result = train('te-only', configText({ target_modules: '[fc1]' }));
    expectCleanFailure(
      result,
      'error: target_modules[0]: `fc1` only matches text-encoder layers, and `train_text_encoder` is off',
    );
  });
});

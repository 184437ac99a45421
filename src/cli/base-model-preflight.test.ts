// A LoRA, a VAE or a cut-off file given as the base model, through the real CLI: one error line from the checkpoint
// inspector, before any picture is decoded and with no Python to start (the engine is made unreachable here).
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';
import { serializeSafetensors } from '../lora/safetensors.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
const DEMO = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const LORA_FIXTURE = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'kohya-sd1-tiny.safetensors');
const LORA_LINE = 'this is a LoRA, not a base model (all its keys start with `lora_`)';

let root: string;
let lora: string;
let vae: string;
let cut: string;

function cli(args: string[]) {
  // No engine can start: any path that reached Python would fail with a different error.
  const env = {
    ...process.env,
    CI: '1',
    LORA_SCRIPTS_ENGINE_VENV: join(root, 'no-venv'),
    LORA_SCRIPTS_PYTHON: join(root, 'no-python'),
  };
  const result = spawnSync('node', [BIN, ...args], { cwd: root, encoding: 'utf8', env });
  return {
    code: result.status,
    stderr: result.stderr,
    errorLines: result.stderr.split('\n').filter((line) => line.startsWith('error:')),
  };
}

function trainWith(baseModel: string, extra = '') {
  const config = join(root, `train-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(config, `train_data_dir: data\nbase_model: ${baseModel}\noutput_dir: out\n${extra}`);
  return cli(['train', '--config', config]);
}

function expectOneLine(result: ReturnType<typeof cli>, line: string) {
  expect(result.errorLines).toEqual([line]);
  expect(result.code).toBe(1);
  expect(result.stderr).not.toMatch(/Traceback|\n\s+at |engine setup/);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'base-preflight-'));
  mkdirSync(join(root, 'models'));
  lora = join(root, 'models', 'x.safetensors');
  copyFileSync(LORA_FIXTURE, lora);
  vae = join(root, 'models', 'vae.safetensors');
  const data = new Uint8Array(4);
  writeFileSync(
    vae,
    serializeSafetensors({
      metadata: {},
      tensors: new Map(
        ['encoder.conv_in.weight', 'decoder.conv_out.weight'].map((key) => [
          key,
          { dtype: 'F32' as const, shape: [1], data },
        ]),
      ),
    }),
  );
  cut = join(root, 'models', 'cut.safetensors');
  writeFileSync(cut, readFileSync(DEMO).subarray(0, 4096));
  // An image that cannot be decoded: reading the dataset first would fail on it instead.
  mkdirSync(join(root, 'data'));
  writeFileSync(join(root, 'data', 'broken.png'), 'not a png');
  writeFileSync(join(root, 'data', 'broken.txt'), 'a caption');
});

describe('the base-model pre-flight', () => {
  it('train: a LoRA as `base_model` is one line, with the `init_lora` hint, and nothing is written', () => {
    const result = trainWith('models/x.safetensors');
    expectOneLine(result, `error: ${lora}: ${LORA_LINE}`);
    expect(result.stderr).toContain('hint: to go on training this LoRA, set `init_lora` to it');
    expect(existsSync(join(root, 'out'))).toBe(false);
  });

  it('train with `auto` keys: refused before the recommendation measures any picture', () => {
    expectOneLine(trainWith('models/x.safetensors', 'lora_rank: auto\n'), `error: models/x.safetensors: ${LORA_LINE}`);
  });

  it('train: a VAE alone and a cut-off checkpoint', () => {
    expectOneLine(trainWith('models/vae.safetensors'), `error: ${vae}: this is a VAE alone, not a base model`);
    const result = trainWith('models/cut.safetensors');
    expect(result.errorLines).toHaveLength(1);
    expect(result.errorLines[0]).toMatch(
      new RegExp(
        `^error: ${cut}: is not a readable \\.safetensors file \\(header claims \\d+ bytes but the file is only 4096 bytes\\)$`,
      ),
    );
  });

  it('merge: a LoRA as the base', () => {
    const result = cli(['merge', 'models/x.safetensors', `${LORA_FIXTURE}:0.5`, '--out', 'merged.safetensors']);
    expectOneLine(result, `error: models/x.safetensors: ${LORA_LINE}`);
    expect(result.stderr).toContain('hint: give the base checkpoint first');
    expect(existsSync(join(root, 'merged.safetensors'))).toBe(false);
  });

  it('generate: a LoRA as `--base-model`', () => {
    const result = cli(['generate', '--base-model', 'models/x.safetensors', '--prompt', 'canal town', '--seed', '1']);
    expectOneLine(result, `error: ${lora}: ${LORA_LINE}`);
    expect(result.stderr).toContain('hint: give a LoRA as `--lora FILE[:WEIGHT]`');
  });

  it('recommend: a LoRA as `base_model`', () => {
    const config = join(root, 'recommend.yaml');
    writeFileSync(config, 'train_data_dir: data\nbase_model: models/x.safetensors\n');
    expectOneLine(cli(['recommend', '--config', config]), `error: models/x.safetensors: ${LORA_LINE}`);
  });
});

// LoHa, LoKr and DoRA trained by the engine (tests/fixtures/lycoris/make_fixtures.py, run here with the engine's
// venv): converted to LyCORIS' kohya layout, inspected, merged into the tiny SD 1.x checkpoint they were trained
// on, where every changed weight must equal the weight peft itself merged; converted back to peft keys (LoHa, DoRA),
// which peft loads as the trained adapter; combine, resize and the undefined conversions are refused. With COMFYUI_SRC set, ComfyUI's own weight adapters apply the converted files too.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { engineVenvDir, PACKAGE_ROOT, venvPython } from '../engine/paths.js';
import { checkpointTargets } from './checkpoint-targets.js';
import { convertLoraFile } from './convert-lora-file.js';
import { decodeFloats, type FloatDtype } from './float-codec.js';
import { inspectLoraFile } from './inspect-file.js';
import { readLycorisModules, networkTypeOf } from './lycoris-modules.js';
import { mergeLorasIntoCheckpoint } from './merge-checkpoint.js';
import { combineLoraFiles, resizeLoraFile } from './rank-files.js';
import { parseSafetensors, type SafetensorsContent, type TensorInfo } from './safetensors.js';
import { convertPeftFileToKohya } from './to-kohya.js';

const NETWORKS = ['loha', 'lokr', 'dora'] as const;
const NAMES = { loha: 'LoHa', lokr: 'LoKr', dora: 'DoRA' } as const;
const PYTHON = venvPython(engineVenvDir(process.env));
let dir = '';

const read = (path: string): SafetensorsContent => parseSafetensors(readFileSync(path), path);
const floats = (file: SafetensorsContent, key: string): Float32Array => {
  const tensor = file.tensors.get(key);
  if (!tensor) throw new Error(`no tensor ${key}`);
  return decodeFloats(tensor.dtype as FloatDtype, tensor.data);
};

/** `unet.<path>` / `text_encoder.<path>` → the kohya name checkpoint-targets.ts resolves. */
function lookupName(target: string): string {
  const [component, ...rest] = target.split('.');
  const path = rest.join('.');
  if (component === 'unet') return `lora_unet_${path.replaceAll('.', '_')}`;
  return `lora_te_${(path.startsWith('text_model.') ? path : `text_model.${path}`).replaceAll('.', '_')}`;
}

/** Largest |a − b| over the largest |b|: the merge sums in another order than torch, so not bit-exact. */
function relativeError(a: Float32Array, b: Float32Array): number {
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
    scale = Math.max(scale, Math.abs(b[i] ?? 0));
  }
  return worst / scale;
}

/** Every module peft merged: the merged checkpoint's weight vs `base + strength·(peft merged − base)`. */
function expectMergedLikePeft(mergedPath: string, expectedPath: string, strength: number): number {
  const merged = read(mergedPath);
  const expected = read(expectedPath);
  const infos = new Map<string, TensorInfo>(
    [...merged.tensors].map(([key, t]) => [key, { dtype: t.dtype, shape: [...t.shape], dataOffsets: [0, 0] }]),
  );
  const { targets } = checkpointTargets(infos, 'sd1');
  const modules = [...expected.tensors.keys()].filter((k) => k.endsWith('.merged')).map((k) => k.slice(0, -7));
  for (const module of modules) {
    const target = targets.get(lookupName(module));
    expect(target, module).toBeDefined();
    const base = floats(expected, `${module}.base`);
    const peft = floats(expected, `${module}.merged`);
    const want = peft.map((v, i) => (base[i] ?? 0) + strength * (v - (base[i] ?? 0)));
    const got = floats(merged, target!.key);
    expect(relativeError(got, base), `${module} changed`).toBeGreaterThan(1e-4);
    expect(relativeError(got, want), module).toBeLessThan(2e-6);
  }
  return modules.length;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lycoris-'));
  execFileSync(PYTHON, [join(PACKAGE_ROOT, 'tests', 'fixtures', 'lycoris', 'make_fixtures.py'), '--out', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 300_000,
  });
}, 320_000);

describe.each(NETWORKS)('an engine-trained %s', (network) => {
  const peftFile = () => join(dir, `${network}.safetensors`);
  const kohyaFile = () => join(dir, `${network}-kohya.safetensors`);

  it('converts to the LyCORIS kohya layout, with the network recorded in its metadata', async () => {
    const summary = await convertLoraFile({ input: peftFile(), output: kohyaFile(), to: 'kohya' });
    expect(summary).toMatchObject({
      from: `diffusers peft ${NAMES[network]}`,
      to: 'kohya',
      family: 'sd1',
      modules: 34,
    });
    const file = read(kohyaFile());
    const keys = [...file.tensors.keys()];
    expect(keys.every((key) => /^lora_(unet|te)_/.test(key))).toBe(true);
    expect(networkTypeOf(keys)).toBe(network);
    expect(file.metadata.ss_network_module).toBe('lycoris.kohya');
    const args = JSON.parse(file.metadata.ss_network_args ?? '{}');
    expect(args).toEqual(network === 'dora' ? { algo: 'lora', dora_wd: 'True' } : { algo: network });
    const parts = new Set(keys.map((key) => key.slice(key.indexOf('.') + 1)));
    const expectedParts = {
      loha: ['alpha', 'hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b'],
      lokr: ['alpha', 'lokr_w1', 'lokr_w2', 'lokr_w2_a', 'lokr_w2_b'],
      dora: ['alpha', 'dora_scale', 'lora_down.weight', 'lora_up.weight'],
    }[network];
    expect([...parts].sort()).toEqual(expectedParts);
    if (network === 'dora') {
      // peft's magnitude per output row, as LyCORIS' default per-output dora_scale: [out, 1] / [out, 1, 1, 1].
      expect(file.tensors.get('lora_unet_down_blocks_1_resnets_0_conv1.dora_scale')?.shape).toEqual([64, 1, 1, 1]);
      expect(
        file.tensors.get('lora_unet_mid_block_attentions_0_transformer_blocks_0_ff_net_2.dora_scale')?.shape,
      ).toEqual([64, 1]);
    }
  });

  it('is written the same way by the training step (convertPeftFileToKohya)', async () => {
    const output = join(dir, `${network}-trained.safetensors`);
    const summary = await convertPeftFileToKohya({
      input: peftFile(),
      output,
      family: 'sd1',
      metadata: {
        ss_network_module: 'networks.lora',
        ss_output_name: network,
        ss_network_args: '{"unet_block_lr": "mid_block=0"}',
      },
    });
    expect(summary.modules).toBe(34);
    expect(summary.alphaSources).toEqual({ unet: 'lora_adapter_metadata', text_encoder: 'lora_adapter_metadata' });
    const file = read(output);
    expect(file.metadata).toMatchObject({ ss_network_module: 'lycoris.kohya', ss_output_name: network });
    // The file's LyCORIS args first, then the training's own, which the tensors do not show.
    const algo = network === 'dora' ? { algo: 'lora', dora_wd: 'True' } : { algo: network };
    expect(JSON.parse(file.metadata.ss_network_args ?? '{}')).toEqual({ ...algo, unet_block_lr: 'mid_block=0' });
    expect([...file.tensors.keys()].sort()).toEqual([...read(kohyaFile()).tensors.keys()].sort());
  });

  it('is inspected as its network type, with rank and alpha from the saved config', () => {
    const report = inspectLoraFile(peftFile());
    expect(report.network).toEqual({ type: network, name: NAMES[network] });
    expect(report.format).toMatchObject({ name: 'diffusers', isConvertible: true });
    expect(report.ranks).toEqual([{ value: 4, count: 34 }]);
    expect(report.alphas).toEqual([{ value: 8, count: 34 }]);
    expect(report.problems).toEqual([]);
    const kohya = inspectLoraFile(kohyaFile());
    expect(kohya.network.type).toBe(network);
    // `convert --to diffusers` rebuilds LoHa/DoRA's peft form, but diffusers cannot load it: not offered as a download.
    expect(kohya.format).toMatchObject({ name: 'lycoris', isConvertible: false });
  });

  it('reads back from the kohya file with the scale consumers apply (peft alpha / r)', () => {
    const modules = readLycorisModules(read(kohyaFile()), { fileName: kohyaFile() }).modules;
    for (const module of modules) {
      const isFolded = module.kind === 'lokr' && module.factors.has('lokr_w1') && module.factors.has('lokr_w2');
      // A LoKr with two full factors has no rank: consumers apply it at scale 1, so alpha / r is in lokr_w1.
      expect(module.scale, module.kohyaName).toBe(isFolded ? 1 : 2);
    }
    if (network === 'lokr') expect(modules.some((m) => m.scale === 1) && modules.some((m) => m.scale === 2)).toBe(true);
  });

  it('merges into the base checkpoint exactly as peft merges it, from the peft file and from the kohya file', async () => {
    for (const [source, strength] of [
      [peftFile(), 1],
      [kohyaFile(), 1],
      [kohyaFile(), 0.5],
    ] as const) {
      const output = join(dir, `${network}-merged-${strength}.safetensors`);
      const summary = await mergeLorasIntoCheckpoint({
        base: join(dir, 'sd1-tiny.safetensors'),
        baseFamily: 'sd1',
        loras: [{ path: source, weight: strength }],
        output,
      });
      expect(summary.modules).toBe(34);
      expect(summary.changedTensors).toBe(34);
      expect(expectMergedLikePeft(output, join(dir, `${network}.expected.safetensors`), strength)).toBe(34);
    }
  });

  it('is refused by combine and resize in one line naming the file', async () => {
    const output = join(dir, 'never.safetensors');
    await expect(combineLoraFiles({ inputs: [{ path: peftFile(), weight: 1 }], output })).rejects.toMatchObject({
      code: 'network_not_supported',
      culprit: peftFile(),
      message: expect.stringMatching(new RegExp(`^is a ${NAMES[network]}: \`combine\` cannot edit it \\(`)),
    });
    await expect(resizeLoraFile({ input: kohyaFile(), output, rank: 2 })).rejects.toMatchObject({
      code: 'network_not_supported',
      culprit: kohyaFile(),
      hint: expect.stringContaining('lora_rank'),
    });
  });

  it('converts back to peft keys that peft loads as the trained adapter (LoHa, DoRA); LoKr is refused', async () => {
    const output = join(dir, `${network}-back.safetensors`);
    if (network === 'lokr') {
      await expect(convertLoraFile({ input: kohyaFile(), output, to: 'diffusers' })).rejects.toMatchObject({
        code: 'conversion_not_defined',
        message: 'is a LyCORIS LoKr file; it has no peft form here',
      });
      return;
    }
    const summary = await convertLoraFile({ input: kohyaFile(), output, to: 'diffusers' });
    expect(summary).toMatchObject({ from: `lycoris ${NAMES[network]}`, to: 'diffusers', modules: 34 });
    // The same tensors, byte for byte, as the engine saved them.
    const original = read(peftFile());
    const back = read(output);
    expect([...back.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
    for (const [key, tensor] of original.tensors) {
      expect(back.tensors.get(key)?.shape, key).toEqual(tensor.shape);
      expect(Buffer.from(back.tensors.get(key)!.data).equals(Buffer.from(tensor.data)), key).toBe(true);
    }
    // And peft, given the rebuilt config, makes the same model outputs.
    const script = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lycoris', 'same_outputs.py');
    const result = spawnSync(PYTHON, [script, peftFile(), output], { encoding: 'utf8', timeout: 120_000 });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').at(-1)!)).toEqual({
      loaded: [
        ['unet', 'text_encoder'],
        ['unet', 'text_encoder'],
      ],
      unet: 0,
      text_encoder: 0,
    });
  });

  it('refuses to convert a file to the layout it already has', async () => {
    const output = join(dir, 'never.safetensors');
    await expect(convertLoraFile({ input: kohyaFile(), output, to: 'kohya' })).rejects.toMatchObject({
      code: 'conversion_not_defined',
      message: `is already a LyCORIS (kohya-key) ${NAMES[network]} file`,
    });
    await expect(convertLoraFile({ input: peftFile(), output, to: 'diffusers' })).rejects.toMatchObject({
      code: 'conversion_not_defined',
      message: `is already a diffusers/peft ${NAMES[network]} file`,
    });
  });

  // bench/interop/README.md: a local ComfyUI checkout (never downloaded by the tests).
  it.runIf(process.env.COMFYUI_SRC)('is applied by ComfyUI’s own weight adapters as peft merged it', () => {
    const script = join(PACKAGE_ROOT, 'bench', 'interop', 'comfyui_lycoris_check.py');
    const expected = join(dir, `${network}.expected.safetensors`);
    const args = [script, '--comfyui-src', process.env.COMFYUI_SRC!, '--lora', kohyaFile(), '--expected', expected];
    const result = spawnSync(PYTHON, args, { encoding: 'utf8', timeout: 120_000 });
    expect(result.status, result.stdout + result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ modules_in_file: 34, modules_patched: 34, keys_not_loaded: [], mismatched: [] });
    expect(report.adapter_kinds).toEqual([network === 'dora' ? 'lora' : network]);
  });
});

// The render worker on the shipped demo base model with the two fixture LoRAs (tests/fixtures/lora/styles) and a blend
// of them: the base model loads once across renders with three different LoRAs, each LoRA once; PNGs carry their infotext; a cancelled render
// stops; a killed worker fails its render with a clear error and the next render starts a fresh one; kohya-key LoHa
// and DoRA files (built from the fixture's factors) render as their peft copies do, and a LoKr is refused.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/index.js';
import { PARAMETERS_KEY, parseParametersText, readPngText, runGeneration } from '../generate/index.js';
import {
  combineLoraFiles,
  convertLoraFile,
  readSafetensors,
  serializeSafetensors,
  type SafetensorsContent,
  type Tensor,
} from '../lora/index.js';
import { startRenderWorker } from './process.js';
import type { RenderRequest } from './types.js';

const BASE_MODEL = join(PACKAGE_ROOT, 'models', 'demo-sd1.safetensors');
const STYLES = join(PACKAGE_ROOT, 'tests', 'fixtures', 'lora', 'styles');
const JIANGNAN = join(STYLES, 'jiangnan_style.safetensors');
const NEON = join(STYLES, 'neon_night_style.safetensors');
// One torch thread: the test machine is shared (see src/generate/run.test.ts).
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };

function request(overrides: Partial<RenderRequest>): RenderRequest {
  return {
    base_model: BASE_MODEL,
    prompt: 'three houses and a stone bridge, canal town scene',
    negative_prompt: '',
    seeds: [7],
    steps: 3,
    cfg_scale: 5,
    width: 64,
    height: 64,
    sampler: 'Euler a',
    loras: [],
    ...overrides,
  };
}

const childOf = (worker: object) => (worker as { child?: ChildProcess }).child;

// Raw F16/F32 bits of 1: the LyCORIS fixtures below only need zeros and ones.
const ONE = { F16: 0x3c00, F32: 0x3f800000 } as const;

/** A tensor of zeros with ones at `ones` (flat indices), in `dtype` (F16 or F32). */
function tensorOf(dtype: 'F16' | 'F32', shape: number[], ones: (i: number) => boolean): Tensor {
  const count = shape.reduce((a, b) => a * b, 1);
  const values = dtype === 'F16' ? new Uint16Array(count) : new Uint32Array(count);
  for (let i = 0; i < count; i++) if (ones(i)) values[i] = ONE[dtype];
  return { dtype, shape, data: new Uint8Array(values.buffer) };
}

/**
 * The jiangnan style's linear modules as kohya-key LyCORIS files, built from its own factors: a LoHa whose second
 * Hadamard pair multiplies to all ones, so (up·down) ⊙ 1 is exactly the LoRA's delta; a DoRA (its factors plus a
 * unit magnitude per output row); a one-module LoKr; and the same linear modules as a plain LoRA, for comparison.
 */
async function lycorisFixtures(dir: string) {
  const style = await readSafetensors(JIANGNAN);
  const linear = [...style.tensors.keys()]
    .filter((key) => key.endsWith('.lora_down.weight') && style.tensors.get(key)!.shape.length === 2)
    .map((key) => key.slice(0, -'.lora_down.weight'.length));
  const part = (module: string, name: string) => style.tensors.get(`${module}.${name}`)!;
  const files = { loha: new Map<string, Tensor>(), dora: new Map<string, Tensor>(), lora: new Map<string, Tensor>() };
  for (const module of linear) {
    const [down, up, alpha] = [part(module, 'lora_down.weight'), part(module, 'lora_up.weight'), part(module, 'alpha')];
    const [rank, inputs] = down.shape as [number, number];
    const outputs = up.shape[0]!;
    const dtype = down.dtype as 'F16' | 'F32';
    files.loha.set(`${module}.hada_w1_a`, up);
    files.loha.set(`${module}.hada_w1_b`, down);
    files.loha.set(
      `${module}.hada_w2_a`,
      tensorOf(dtype, [outputs, rank], (i) => i % rank === 0),
    );
    files.loha.set(
      `${module}.hada_w2_b`,
      tensorOf(dtype, [rank, inputs], (i) => i < inputs),
    );
    files.loha.set(`${module}.alpha`, alpha);
    for (const name of ['lora_down.weight', 'lora_up.weight', 'alpha']) {
      files.dora.set(`${module}.${name}`, part(module, name));
      files.lora.set(`${module}.${name}`, part(module, name));
    }
    files.dora.set(
      `${module}.dora_scale`,
      tensorOf(dtype, [outputs, 1], () => true),
    );
  }
  const [first] = linear;
  const [outputs, inputs] = [part(first!, 'lora_up.weight').shape[0]!, part(first!, 'lora_down.weight').shape[1]!];
  const lokr = new Map<string, Tensor>([
    [`${first}.lokr_w1`, tensorOf('F32', [1, 1], () => true)],
    [`${first}.lokr_w2`, tensorOf('F32', [outputs, inputs], (i) => i === 0)],
    [`${first}.alpha`, part(first!, 'alpha')],
  ]);
  const write = (name: string, tensors: Map<string, Tensor>, metadata: Record<string, string>) => {
    const path = join(dir, `${name}.safetensors`);
    const content: SafetensorsContent = { metadata, tensors };
    writeFileSync(path, serializeSafetensors(content));
    return path;
  };
  const lycoris = { ss_network_module: 'lycoris.kohya' };
  return {
    loha: write('loha_style', files.loha, { ...lycoris, ss_network_args: '{"algo": "loha"}' }),
    dora: write('dora_style', files.dora, { ...lycoris, ss_network_args: '{"algo": "lora", "dora_wd": "True"}' }),
    lokr: write('lokr_style', lokr, { ...lycoris, ss_network_args: '{"algo": "lokr"}' }),
    lora: write('linear_style', files.lora, { ss_network_module: 'networks.lora' }),
  };
}

const pixels = async (image: { png: Buffer }) => sharp(image.png).raw().toBuffer();

function meanAbsDifference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe('render worker', () => {
  const worker = startRenderWorker({ env: ENV });
  afterAll(() => worker.close());

  it('loads the base model once and each LoRA once across renders that switch among three styles', async () => {
    const jiangnan = { path: JIANGNAN, weight: 0.8, name: 'jiangnan_style' };
    const neon = { path: NEON, weight: 0.8 };
    // A third style of its own: the two fixtures blended into one LoRA file (`lora-scripts combine`).
    const blendDir = mkdtempSync(join(tmpdir(), 'lora-worker-blend-'));
    const blend = { path: join(blendDir, 'blend_style.safetensors'), weight: 0.8 };
    await combineLoraFiles({
      inputs: [
        { path: JIANGNAN, weight: 0.5 },
        { path: NEON, weight: 0.5 },
      ],
      output: blend.path,
    });
    const first = await worker.render(request({ prompt: 'canal town, <lora:jiangnan_style:0.8>', loras: [jiangnan] }));
    const second = await worker.render(request({ loras: [neon], seeds: [7, 8] }));
    await worker.render(request({ loras: [blend] }));
    await worker.render(request({ loras: [jiangnan] }));
    await worker.render(request({ loras: [neon] }));
    await worker.render(request({ loras: [blend] }));
    await worker.render(request({ loras: [] }));
    expect(worker.stats()).toEqual({ base_loads: 1, lora_loads: 3, renders: 7 });
    rmSync(blendDir, { recursive: true, force: true });

    expect(first.map((i) => i.seed)).toEqual([7]);
    expect(second.map((i) => i.seed)).toEqual([7, 8]);
    const meta = await sharp(second[1]!.png).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 64, 64]);
    const text = readPngText(second[1]!.png, 'png').get(PARAMETERS_KEY);
    expect(text).toBe(second[1]!.infotext);
    const parameters = parseParametersText(text!, 'png');
    // A LoRA the prompt did not name gets its tag, so WebUI re-renders it from the PNG.
    expect(parameters.prompt).toBe('three houses and a stone bridge, canal town scene, <lora:neon_night_style:0.8>');
    expect([parameters.seed, parameters.steps, parameters.sampler, parameters.width, parameters.model]).toEqual([
      8,
      3,
      'Euler a',
      64,
      'demo-sd1',
    ]);
    expect(parameters.loraHashes.map((l) => l.name)).toEqual(['neon_night_style']);
    expect(parseParametersText(first[0]!.infotext, 'png').prompt).toBe('canal town, <lora:jiangnan_style:0.8>');
  }, 300_000);

  it('stops a running render when its signal aborts, drops a waiting one, and renders the next', async () => {
    const running = new AbortController();
    const waiting = new AbortController();
    const long = worker.render(request({ steps: 400 }), running.signal, () => running.abort());
    const queued = worker.render(request({}), waiting.signal);
    waiting.abort();
    await expect(queued).rejects.toMatchObject({ code: 'render_cancelled' });
    await expect(long).rejects.toMatchObject({ code: 'render_cancelled' });
    const before = worker.stats();
    const after = await worker.render(request({}));
    expect(after).toHaveLength(1);
    expect(worker.stats()).toEqual({ ...before, renders: before.renders + 1 });
    const aborted = new AbortController();
    aborted.abort();
    await expect(worker.render(request({}), aborted.signal)).rejects.toMatchObject({ code: 'render_cancelled' });
  }, 300_000);

  it('fails the render a dying worker was running and restarts on the next request', async () => {
    const dying = worker.render(request({ steps: 400 }), undefined, () => childOf(worker)?.kill('SIGKILL'));
    await expect(dying).rejects.toMatchObject({ code: 'render_worker_crashed' });
    await expect(dying).rejects.toThrow(/stopped unexpectedly/);
    const before = worker.stats();
    const images = await worker.render(request({ loras: [{ path: JIANGNAN, weight: 0.5 }] }));
    expect(images).toHaveLength(1);
    expect(worker.stats()).toEqual({
      base_loads: before.base_loads + 1,
      lora_loads: before.lora_loads + 1,
      renders: before.renders + 1,
    });
  }, 300_000);

  it('renders the very pixels `generate` renders with the same settings', async () => {
    const settings = { seeds: [21], steps: 4, sampler: 'DPM++ 2M Karras', cfg_scale: 6 };
    const prompt = 'a (stone bridge:1.3) over a canal, <lora:jiangnan_style:0.6>';
    const [fromWorker] = await worker.render(
      request({
        ...settings,
        prompt,
        negative_prompt: 'blurry',
        loras: [{ path: JIANGNAN, weight: 0.6, name: 'jiangnan_style' }],
      }),
    );
    const outDir = mkdtempSync(join(tmpdir(), 'render-vs-generate-'));
    try {
      const generated = await runGeneration({
        prompts: [prompt],
        negativePrompt: 'blurry',
        loraFiles: [],
        loraDirs: [STYLES],
        baseModel: BASE_MODEL,
        seed: 21,
        steps: 4,
        cfgScale: 6,
        sampler: 'DPM++ 2M Karras',
        scheduleType: 'Automatic',
        width: 64,
        height: 64,
        batchCount: 1,
        batchSize: 1,
        outDir,
        env: ENV,
        verbose: false,
        note: () => undefined,
      });
      const path = generated.images[0]!.path;
      expect(await sharp(fromWorker!.png).raw().toBuffer()).toEqual(await sharp(path).raw().toBuffer());
      // And the same infotext: a picture from either re-renders in WebUI or `generate --from-png` alike.
      expect(fromWorker!.infotext).toBe(readPngText(readFileSync(path), path).get(PARAMETERS_KEY));
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  }, 300_000);

  it('renders kohya-key LoHa and DoRA files as generate does (converted once), and refuses a LoKr with its hint', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'render-lycoris-'));
    try {
      const files = await lycorisFixtures(dir);
      const lohaPeft = join(dir, 'loha_style_peft.safetensors');
      await convertLoraFile({ input: files.loha, output: lohaPeft, to: 'diffusers' });
      const render = async (path?: string) => {
        const [image] = await worker.render(request({ seeds: [5], loras: path ? [{ path, weight: 1 }] : [] }));
        return image!;
      };
      const base = await pixels(await render());
      const before = worker.stats();
      const loha = await render(files.loha);
      const lohaAgain = await render(files.loha);
      // One conversion, one engine load: the staged copy keeps its path across renders.
      expect(worker.stats().lora_loads).toBe(before.lora_loads + 1);
      expect(await pixels(lohaAgain)).toEqual(await pixels(loha));
      // The infotext names the LoHa file itself, not its staged copy.
      expect(parseParametersText(loha.infotext, 'png').loraHashes.map((l) => l.name)).toEqual(['loha_style']);
      expect(meanAbsDifference(await pixels(loha), base)).toBeGreaterThan(1);
      expect(await pixels(loha)).toEqual(await pixels(await render(lohaPeft)));
      // Its delta is the LoRA's (second pair all ones): the picture is the plain LoRA's (measured: identical).
      const lora = await pixels(await render(files.lora));
      expect(meanAbsDifference(await pixels(loha), lora)).toBeLessThan(0.5);

      const doraPeft = join(dir, 'dora_style_peft.safetensors');
      await convertLoraFile({ input: files.dora, output: doraPeft, to: 'diffusers' });
      const dora = await pixels(await render(files.dora));
      expect(meanAbsDifference(dora, base)).toBeGreaterThan(1);
      expect(dora).toEqual(await pixels(await render(doraPeft)));

      await expect(render(files.lokr)).rejects.toMatchObject({
        code: 'lora_not_loadable',
        hint: expect.stringContaining('lora-scripts merge'),
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 300_000);

  it('refuses a request the pipeline would refuse, naming the field, before anything starts', async () => {
    await expect(worker.render(request({ width: 60 }))).rejects.toMatchObject({
      code: 'invalid_render',
      culprit: 'width',
    });
    await expect(worker.render(request({ sampler: 'Nope' }))).rejects.toMatchObject({ code: 'unknown_sampler' });
  });
});

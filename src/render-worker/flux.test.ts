// The render worker on a tiny Flux.1 dev folder (the engine's own tiny model, as `make-checkpoint --family flux-dev`
// writes it) and a random Flux LoRA in kohya names (what `train` writes): with and without the LoRA the pictures
// differ; the same request twice gives the same PNG bytes; left-out steps and guidance take Flux dev's defaults; a negative prompt is noted,
// not used; a Flux transformer file alone is refused in one line. End to end: a cover in a Flux style, and a studio
// generate job on the Flux base without steps or CFG (Flux dev's defaults, not SD's), whose picture (made by
// `generate`) has exactly the worker's pixels for the same seed, steps, guidance, size and LoRA.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coverRequestSchema, createCoverService } from '../covers/index.js';
import { ENGINE_SOURCE_DIR, engineVenvDir, venvPython } from '../engine/index.js';
import { PARAMETERS_KEY, parseParametersText, readPngText } from '../generate/index.js';
import type { ResolvedStyle } from '../library/index.js';
import { generateExecutor } from '../server/runner/generate-executor.js';
import type { Job } from '../store/index.js';
import { convertLoraFile } from '../lora/index.js';
import { startRenderWorker } from './process.js';
import type { RenderRequest } from './types.js';

// One torch thread: the test machine is shared (see src/generate/run.test.ts).
const ENV = { ...process.env, OMP_NUM_THREADS: '1' };
const SIZE_PX = 32;
const PROMPT = 'three houses and a stone bridge';

/** A tiny Flux dev folder (flux_model.write_tiny_flux_folder, seed 0) and a random rank-4 LoRA of it (diffusers). */
const FIXTURE_SCRIPT = `
import sys, torch
from peft import LoraConfig
from lora_scripts_engine.flux_model import build_tiny_flux, save_transformer_file, write_tiny_flux_folder
from lora_scripts_engine.flux_train import save_flux_lora
folder, lora, transformer_file = sys.argv[1:4]
write_tiny_flux_folder(folder, "dev", seed=0)
model = build_tiny_flux("dev", seed=0)
save_transformer_file(model.transformer, transformer_file)
torch.manual_seed(1)
targets = ["attn.to_q", "attn.to_k", "attn.to_v", "attn.to_out.0", "proj_mlp", "proj_out", "ff.net.0.proj"]
model.transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights=False, target_modules=targets))
save_flux_lora(model, lora, "fp32")
`;

const pixels = (png: Buffer) => sharp(png).raw().toBuffer();

describe('render worker on a Flux base', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lora-worker-flux-'));
  const base = join(dir, 'flux-tiny');
  const transformerFile = join(dir, 'flux1-tiny.safetensors');
  const diffusersLora = join(dir, 'pytorch_lora_weights.safetensors');
  const kohyaLora = join(dir, 'flux_style.safetensors');
  const notes: string[] = [];
  const worker = startRenderWorker({ env: ENV, onLog: (chunk) => notes.push(chunk) });

  const request = (overrides: Partial<RenderRequest>): RenderRequest => ({
    base_model: base,
    prompt: PROMPT,
    negative_prompt: '',
    seeds: [7],
    steps: 3,
    cfg_scale: 3.5,
    width: SIZE_PX,
    height: SIZE_PX,
    sampler: 'DPM++ 2M Karras', // not used on Flux: it samples with its own Euler
    loras: [],
    ...overrides,
  });
  const withLora = () => request({ loras: [{ path: kohyaLora, weight: 0.8 }] });

  beforeAll(async () => {
    const made = spawnSync(
      venvPython(engineVenvDir(ENV)),
      ['-c', FIXTURE_SCRIPT, base, diffusersLora, transformerFile],
      { env: { ...ENV, PYTHONPATH: ENGINE_SOURCE_DIR }, encoding: 'utf8' },
    );
    expect(made.status, made.stderr).toBe(0);
    // kohya names, so the worker's conversion for the engine (generate's engineLoraFile) is on the path.
    await convertLoraFile({ input: diffusersLora, output: kohyaLora, to: 'kohya' });
  }, 120_000);
  afterAll(async () => {
    await worker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('renders with and without a kohya-named Flux LoRA, loading the base once; the same request twice is the same PNG', async () => {
    const [plain] = await worker.render(request({}));
    const [styled] = await worker.render(withLora());
    const [again] = await worker.render(withLora());
    expect(plain!.png.subarray(0, 8).toString('latin1')).toBe('\x89PNG\r\n\x1a\n');
    expect((await pixels(styled!.png)).equals(await pixels(plain!.png))).toBe(false);
    expect(again!.png.equals(styled!.png)).toBe(true);
    // The LoRA switched off again: the base model's own picture, bit for bit.
    const [plainAgain] = await worker.render(request({}));
    expect((await pixels(plainAgain!.png)).equals(await pixels(plain!.png))).toBe(true);
    expect(worker.stats()).toMatchObject({ base_loads: 1, lora_loads: 1 });
    const info = parseParametersText(styled!.infotext, 'styled');
    expect(info).toMatchObject({ steps: 3, cfgScale: 3.5, sampler: 'Euler', width: SIZE_PX, height: SIZE_PX });
    expect(styled!.infotext).toContain('<lora:flux_style:0.8>');
  }, 120_000);

  it("takes Flux dev's steps and guidance when the request leaves them out, and notes an unused negative prompt", async () => {
    const [image] = await worker.render(
      request({ steps: null, cfg_scale: undefined, negative_prompt: 'blurry', seeds: [3] }),
    );
    const info = parseParametersText(image!.infotext, 'image');
    expect(info).toMatchObject({ steps: 28, cfgScale: 3.5, sampler: 'Euler', negativePrompt: '' });
    expect(notes.join('')).toContain('negative_prompt: ignored (a Flux base model has no negative prompt)');
  }, 120_000);

  it('refuses a Flux transformer file alone in one line, before the engine sees it', async () => {
    await expect(worker.render(request({ base_model: transformerFile }))).rejects.toMatchObject({
      code: 'flux_components_missing',
      culprit: transformerFile,
    });
  });

  it('makes a cover in a Flux style through the cover service, with Flux dev defaults and the style applied', async () => {
    const style: ResolvedStyle = {
      style: 'flux_style',
      version: 1,
      sha256: 'b'.repeat(64),
      lora_path: 'flux_style.safetensors',
      strength: 0.8,
      prompt_template: null,
      trigger_words: ['stone bridge'],
      base_model: 'flux-tiny',
      matched: 'province',
    };
    const covers = createCoverService({ workspace: dir, resolvePlace: async () => style, renderer: worker });
    const result = await covers.makeCovers(
      coverRequestSchema.parse({ province: '浙江', title: 'canal', size: '64x64', seed: 5, title_on_image: false }),
    );
    expect(result).toMatchObject({ style: 'flux_style', cached: false });
    const png = readFileSync(join(dir, result.covers[0]!.path));
    const info = parseParametersText(readPngText(png, 'cover').get(PARAMETERS_KEY)!, 'cover');
    expect(info).toMatchObject({ steps: 28, cfgScale: 3.5, sampler: 'Euler', width: 64, height: 64 });
    expect(info.prompt).toContain('<lora:flux_style:0.8>');
  }, 120_000);

  it("runs a studio generate job on Flux with dev's steps and guidance, in exactly the worker's pixels", async () => {
    const run = generateExecutor({ workspace: dir, env: ENV });
    const config = { base_model: 'flux-tiny', lora: 'flux_style.safetensors', prompts: [PROMPT], seeds: [2] };
    const job = { id: 'flux-job', config: { ...config, width: 64, height: 64 } };
    const files = await run(job as unknown as Job, {
      signal: new AbortController().signal,
      log: () => undefined,
      progress: () => undefined,
      update: () => undefined,
    });
    expect(files).toHaveLength(1);
    const png = readFileSync(join(dir, files[0]!));
    const info = parseParametersText(readPngText(png, 'job').get(PARAMETERS_KEY)!, 'job');
    expect(info).toMatchObject({ steps: 28, cfgScale: 3.5, sampler: 'Euler' });
    // The job runs `generate` (generate.py's Flux path); the worker the same pipeline call per seed on the same
    // CPU generator, with the same converted LoRA: the same bits, not merely close.
    const [rendered] = await worker.render(
      request({
        seeds: [2],
        steps: null,
        cfg_scale: null,
        width: 64,
        height: 64,
        loras: [{ path: kohyaLora, weight: 1 }],
      }),
    );
    expect((await pixels(rendered!.png)).equals(await pixels(png))).toBe(true);
  }, 120_000);
});

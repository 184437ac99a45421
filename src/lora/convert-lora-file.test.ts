// convert on real files: sd-scripts-style kohya fixtures (make_fixtures.py) through diffusers format and back,
// files written by diffusers' own example-script helpers, and the refusals.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alphaValue } from './alpha-tensor.js';
import { convertLoraFile } from './convert-lora-file.js';
import { parseAdapterMetadata } from './peft-adapter-config.js';
import { readSafetensors } from './safetensors-file.js';
import { peftContent } from './kohya-to-peft.js';
import { readLoraModules } from './lora-modules.js';
import { kohyaContent } from './modules-to-kohya.js';
import { serializeSafetensors, type SafetensorsFile } from './safetensors.js';
import { serializeWithSshsHashes } from './sshs-hashes.js';
import { ldmUnetPath, SD_UNET_LAYOUT } from './unet-ldm-layout.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);
const fixture = (name: string) => new URL(name, FIXTURES).pathname;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-convert-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function expectSameTensors(a: SafetensorsFile, b: SafetensorsFile): void {
  expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
  for (const [name, tensor] of a.tensors) {
    const other = b.tensors.get(name)!;
    expect([name, other.dtype, other.shape]).toEqual([name, tensor.dtype, tensor.shape]);
    expect(other.data.equals(tensor.data), name).toBe(true);
  }
}

describe('convertLoraFile kohya → diffusers → kohya', () => {
  it.each(['sd1', 'sdxl'])(
    'gives back every %s tensor bit for bit, alphas included, and the metadata',
    async (family) => {
      const input = fixture(`kohya-${family}-tiny.safetensors`);
      const diffusers = join(dir, 'diffusers.safetensors');
      const back = join(dir, 'back.safetensors');
      const there = await convertLoraFile({ input, output: diffusers, to: 'diffusers' });
      const again = await convertLoraFile({ input: diffusers, output: back, to: 'kohya' });

      const [original, converted, returned] = await Promise.all([
        readSafetensors(input),
        readSafetensors(diffusers),
        readSafetensors(back),
      ]);
      expectSameTensors(original, returned);
      // The same tensors in the same order: the data section, and so A1111's hash, are unchanged.
      expect(returned.metadata.sshs_model_hash).toBe(original.metadata.sshs_model_hash);
      expect(again.modelHash).toBe(original.metadata.sshs_model_hash);
      for (const [key, value] of Object.entries(original.metadata)) {
        if (key !== 'sshs_legacy_hash') expect([key, returned.metadata[key]]).toEqual([key, value]);
      }
      expect(there).toMatchObject({
        from: 'kohya LoCon',
        to: 'diffusers',
        family,
        tensors: (original.tensors.size / 3) * 2,
      });
      expect(again).toMatchObject({ from: 'diffusers peft', to: 'kohya', family, tensors: original.tensors.size });
      expect(converted.metadata.ss_output_name).toBe(`tiny_${family}`);
    },
  );

  it('writes the peft keys and the lora_adapter_metadata diffusers would, with patterns for the LoCon convs', async () => {
    const expected = JSON.parse(readFileSync(fixture('kohya-sdxl-tiny.expected.json'), 'utf8')) as {
      modules: Record<string, { component: string; path: string; rank: number; alpha: number }>;
    };
    const out = join(dir, 'xl.safetensors');
    await convertLoraFile({ input: fixture('kohya-sdxl-tiny.safetensors'), output: out, to: 'diffusers' });
    const file = await readSafetensors(out);
    const modules = Object.values(expected.modules);
    const keyOf = ({ component, path }: { component: string; path: string }) =>
      `${component}.${component === 'unet' ? path : `text_model.${path.replace(/^text_model\./, '')}`}`;
    expect([...file.tensors.keys()].sort()).toEqual(
      modules.flatMap((m) => [`${keyOf(m)}.lora_A.weight`, `${keyOf(m)}.lora_B.weight`]).sort(),
    );
    expect(file.metadata.format).toBe('pt');
    const json = JSON.parse(file.metadata.lora_adapter_metadata!) as Record<string, unknown>;
    expect([
      json['unet.r'],
      json['unet.lora_alpha'],
      json['text_encoder_2.r'],
      json['text_encoder_2.lora_alpha'],
    ]).toEqual([4, 2, 4, 2]);
    expect(json['unet.rank_pattern']).toMatchObject({
      'down_blocks.0.resnets.0.conv1': 2,
      'up_blocks.0.upsamplers.0.conv': 2,
    });
    expect(json['unet.alpha_pattern']).toMatchObject({ 'down_blocks.0.resnets.0.conv2': 1 });
    expect(json['text_encoder.target_modules']).toContain('encoder.layers.0.self_attn.q_proj');
    const configs = parseAdapterMetadata(file.metadata.lora_adapter_metadata, out);
    expect(Object.keys(configs).sort()).toEqual(['text_encoder', 'text_encoder_2', 'unet']);
    expect(file.metadata['lora_scripts.kohya_alpha_dtype']).toBe('F16');
  });
});

describe('convertLoraFile streaming', () => {
  it.each(['diffusers', 'kohya'] as const)(
    'writes, without loading the input, the bytes the in-memory writer makes (--to %s)',
    async (to) => {
      const input = fixture('kohya-sdxl-tiny.safetensors');
      const out = join(dir, 'streamed.safetensors');
      const summary = await convertLoraFile({ input, output: out, to });
      const file = await readSafetensors(input);
      const set = readLoraModules(file, { fileName: input });
      const carried = Object.fromEntries(Object.entries(file.metadata).filter(([key]) => !key.startsWith('sshs_')));
      const content =
        to === 'diffusers'
          ? peftContent(set.modules, carried)
          : kohyaContent(set.modules, { metadata: carried, culprit: out });
      const inMemory = serializeWithSshsHashes(content);
      expect(readFileSync(out).equals(inMemory.bytes)).toBe(true);
      expect([summary.modelHash, summary.sizeBytes]).toEqual([inMemory.modelHash, inMemory.bytes.length]);
    },
  );
});

describe('convertLoraFile on files from diffusers tools', () => {
  it("reads diffusers' convert_state_dict_to_kohya output (lora_te1_ for SD1, I64 alphas) and writes sd-scripts names, tensors kept", async () => {
    const out = join(dir, 'k.safetensors');
    const summary = await convertLoraFile({
      input: fixture('diffusers-kohya-sd1-tiny.safetensors'),
      output: out,
      to: 'kohya',
    });
    const [input, file] = await Promise.all([
      readSafetensors(fixture('diffusers-kohya-sd1-tiny.safetensors')),
      readSafetensors(out),
    ]);
    expect(summary.family).toBe('sd1');
    const renamed = (key: string) => key.replace(/^lora_te1_/, 'lora_te_');
    expect([...file.tensors.keys()].sort()).toEqual([...input.tensors.keys()].map(renamed).sort());
    for (const [key, tensor] of input.tensors) {
      const written = file.tensors.get(renamed(key))!;
      expect([key, written.dtype, alphaValue(written)]).toEqual([key, tensor.dtype, alphaValue(tensor)]);
      expect(written.data.equals(tensor.data), key).toBe(true);
    }
  });

  it("reads ComfyUI's own names (diffusion_model.<LDM path>, text_encoders.clip_l.…) back to the sd-scripts file", async () => {
    const kohya = await readSafetensors(fixture('kohya-sd1-tiny.safetensors'));
    const expected = JSON.parse(readFileSync(fixture('kohya-sd1-tiny.expected.json'), 'utf8')) as {
      modules: Record<string, { component: string; path: string }>;
    };
    const comfyName = (name: string) => {
      const { component, path } = expected.modules[name]!;
      if (component !== 'unet')
        return `text_encoders.clip_l.transformer.${path.startsWith('text_model.') ? path : `text_model.${path}`}`;
      const ldm = ldmUnetPath(path, SD_UNET_LAYOUT);
      if (!('ldm' in ldm)) throw new Error(ldm.problem);
      return `diffusion_model.${ldm.ldm}`;
    };
    const renamed = new Map(
      [...kohya.tensors].map(([key, tensor]) => {
        const [, name = '', suffix = ''] = /^(.+?)(\.lora_down\.weight|\.lora_up\.weight|\.alpha)$/.exec(key)!;
        return [`${comfyName(name)}${suffix}`, tensor] as const;
      }),
    );
    const input = join(dir, 'comfy.safetensors');
    writeFileSync(input, serializeSafetensors({ metadata: {}, tensors: renamed }));
    const out = join(dir, 'k.safetensors');
    const summary = await convertLoraFile({ input, output: out, to: 'kohya' });
    expect([summary.from, summary.family]).toEqual(['comfyui LoCon', 'sd1']);
    expectSameTensors(kohya, await readSafetensors(out));
  });

  it('reads the "diffusers new" spelling (lora.down, lora_linear_layer) with alpha = rank', async () => {
    const out = join(dir, 'k.safetensors');
    await convertLoraFile({ input: fixture('diffusers-new-sd1-tiny.safetensors'), output: out, to: 'kohya' });
    const file = await readSafetensors(out);
    expect(file.tensors.get('lora_te_text_model_encoder_layers_0_self_attn_q_proj.lora_down.weight')?.shape).toEqual([
      4, 32,
    ]);
    const alphas = [...file.tensors].filter(([key]) => key.endsWith('.alpha')).map(([, t]) => alphaValue(t));
    expect(alphas.length).toBe(136);
    expect(new Set(alphas)).toEqual(new Set([4]));
  });
});

describe('convertLoraFile refusals', () => {
  it('never writes over its input, even through another spelling of the path', async () => {
    const input = join(dir, 'in.safetensors');
    copyFileSync(fixture('kohya-sd1-tiny.safetensors'), input);
    const before = readFileSync(input);
    await expect(
      convertLoraFile({ input, output: join(dir, '.', 'in.safetensors'), to: 'kohya' }),
    ).rejects.toMatchObject({
      code: 'output_is_input',
      line: `${join(dir, 'in.safetensors')}: is both the input and the output`,
    });
    expect(readFileSync(input).equals(before)).toBe(true);
  });

  it('refuses to turn a LyCORIS LoKr file into a diffusers one, and writes nothing', async () => {
    const name = 'lora_unet_down_blocks_0_attentions_0_proj_in';
    const f16 = (shape: number[]) => ({
      dtype: 'F16' as const,
      shape,
      data: new Uint8Array(shape.reduce((a, b) => a * b, 2)),
    });
    const tensors = new Map([
      [`${name}.lokr_w1`, f16([4, 4])],
      [`${name}.lokr_w2`, f16([8, 8])],
      [`${name}.alpha`, f16([])],
    ]);
    const input = join(dir, 'lokr.safetensors');
    writeFileSync(input, serializeSafetensors({ metadata: { ss_network_module: 'lycoris.kohya' }, tensors }));
    const output = join(dir, 'out.safetensors');
    await expect(convertLoraFile({ input, output, to: 'diffusers' })).rejects.toMatchObject({
      code: 'conversion_not_defined',
      line: `${input}: is a LyCORIS LoKr file; it has no peft form here`,
    });
    expect(() => readFileSync(output)).toThrow();
  });

  it('names a missing input and a folder', async () => {
    await expect(
      convertLoraFile({ input: join(dir, 'nope.safetensors'), output: join(dir, 'o.safetensors'), to: 'kohya' }),
    ).rejects.toMatchObject({ line: `${join(dir, 'nope.safetensors')}: no such file` });
    await expect(
      convertLoraFile({ input: dir, output: join(dir, 'o.safetensors'), to: 'kohya' }),
    ).rejects.toMatchObject({ line: `${dir}: is a folder, not a .safetensors file` });
  });

  it("refuses a truncated file with the parser's error", async () => {
    const input = join(dir, 'cut.safetensors');
    const whole = readFileSync(fixture('kohya-sd1-tiny.safetensors'));
    writeFileSync(input, whole.subarray(0, whole.length - 100));
    await expect(convertLoraFile({ input, output: join(dir, 'o.safetensors'), to: 'diffusers' })).rejects.toMatchObject(
      { code: 'tensor_past_end' },
    );
  });
});

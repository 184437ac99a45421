// End to end on a real diffusers save_lora_weights file (F16, rank and alpha overrides) made by make_fixtures.py.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kohyaModuleName, parsePeftKey } from './kohya-keys.js';
import { readSafetensors } from './safetensors-file.js';
import { convertPeftFileToKohya } from './to-kohya.js';

const FIXTURES = new URL('../../tests/fixtures/lora/', import.meta.url);
const INPUT = new URL('peft-sd1-tiny.safetensors', FIXTURES).pathname;
/** PEFT's own scaling × rank for every module, read from the live PEFT layers when the fixture was made. */
const EXPECTED = JSON.parse(readFileSync(new URL('peft-sd1-tiny.expected.json', FIXTURES), 'utf8')) as Record<
  string,
  { rank: number; alpha: number }
>;

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const kohyaName = (module: string) => kohyaModuleName(parsePeftKey(`${module}.lora_A.weight`), 'sd1');
const f32 = (data: Uint8Array) => new DataView(data.buffer, data.byteOffset, data.byteLength).getFloat32(0, true);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-to-kohya-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('convertPeftFileToKohya', () => {
  it('writes down, up and alpha for every module, with PEFT scaling kept and weight bytes untouched', async () => {
    const output = join(dir, 'jiangnan.safetensors');
    const summary = await convertPeftFileToKohya({
      input: INPUT,
      output,
      family: 'sd1',
      metadata: { ss_network_dim: '4', ss_network_alpha: '8.0' },
    });
    const source = await readSafetensors(INPUT);
    const written = await readSafetensors(output);

    const moduleCount = Object.keys(EXPECTED).length;
    expect(summary).toMatchObject({
      modules: moduleCount,
      tensors: 3 * moduleCount,
      alphaSources: { unet: 'lora_adapter_metadata', text_encoder: 'lora_adapter_metadata' },
    });
    expect(written.tensors.size).toBe(3 * moduleCount);
    for (const [module, { rank, alpha }] of Object.entries(EXPECTED)) {
      const name = kohyaName(module);
      const down = written.tensors.get(`${name}.lora_down.weight`)!;
      const up = written.tensors.get(`${name}.lora_up.weight`)!;
      const alphaTensor = written.tensors.get(`${name}.alpha`)!;
      expect([down.dtype, down.shape[0], up.shape[1]]).toEqual(['F16', rank, rank]);
      expect(down.data.equals(source.tensors.get(`${module}.lora_A.weight`)!.data)).toBe(true);
      expect(up.data.equals(source.tensors.get(`${module}.lora_B.weight`)!.data)).toBe(true);
      expect([alphaTensor.dtype, alphaTensor.shape, f32(alphaTensor.data)]).toEqual(['F32', [], alpha]);
    }
  });

  it('applies the rank_pattern and alpha_pattern overrides and the text encoder config', async () => {
    const output = join(dir, 'o.safetensors');
    await convertPeftFileToKohya({ input: INPUT, output, family: 'sd1', metadata: {} });
    const { tensors } = await readSafetensors(output);
    const alphaOf = (name: string) => f32(tensors.get(`${name}.alpha`)!.data);
    const rankOf = (name: string) => tensors.get(`${name}.lora_down.weight`)!.shape[0];
    const rankOverride = 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q';
    const alphaOverride = 'lora_unet_down_blocks_1_attentions_1_transformer_blocks_0_attn2_to_k';
    expect([rankOf(rankOverride), alphaOf(rankOverride)]).toEqual([2, 8]);
    expect([rankOf(alphaOverride), alphaOf(alphaOverride)]).toEqual([4, 3]);
    expect(alphaOf('lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k')).toBe(8);
    // The fixture's text encoder is flattened (transformers 5); the kohya name has text_model_ back.
    expect([
      rankOf('lora_te_text_model_encoder_layers_1_self_attn_out_proj'),
      alphaOf('lora_te_text_model_encoder_layers_1_self_attn_out_proj'),
    ]).toEqual([2, 1]);
  });

  it('stores sshs hashes that match the bytes of the written file, and only the given metadata', async () => {
    const output = join(dir, 'h.safetensors');
    const summary = await convertPeftFileToKohya({
      input: INPUT,
      output,
      family: 'sd1',
      metadata: { ss_output_name: 'h', sshs_model_hash: 'stale' },
    });
    const bytes = readFileSync(output);
    const headerSize = Number(bytes.readBigUInt64LE(0));
    const { metadata } = await readSafetensors(output);
    expect(metadata).toEqual({
      sshs_model_hash: sha256(bytes.subarray(8 + headerSize)),
      sshs_legacy_hash: sha256(bytes.subarray(0x100000, 0x110000)).slice(0, 8),
      ss_output_name: 'h',
    });
    expect([summary.modelHash, summary.legacyHash, summary.sizeBytes]).toEqual([
      metadata.sshs_model_hash,
      metadata.sshs_legacy_hash,
      bytes.length,
    ]);
  });

  it('refuses to overwrite its input and leaves nothing behind when the input is missing', async () => {
    const input = join(dir, 'pytorch_lora_weights.safetensors');
    copyFileSync(INPUT, input);
    await expect(convertPeftFileToKohya({ input, output: input, family: 'sd1', metadata: {} })).rejects.toMatchObject({
      code: 'output_is_input',
      culprit: input,
    });
    await expect(
      convertPeftFileToKohya({
        input: join(dir, 'nope.safetensors'),
        output: join(dir, 'x.safetensors'),
        family: 'sd1',
        metadata: {},
      }),
    ).rejects.toMatchObject({ code: 'file_not_found' });
    expect(readdirSync(dir)).toEqual(['pytorch_lora_weights.safetensors']);
    expect(readFileSync(input).equals(readFileSync(INPUT))).toBe(true);
  });
});

// convertFluxPeftFileToKohya on real files: a diffusers Flux LoRA file in, a kohya file with hashes out.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alphaValue } from './alpha-tensor.js';
import { encodeFloats } from './float-codec.js';
import { convertFluxPeftFileToKohya } from './flux-to-kohya.js';
import { serializeSafetensors, type Tensor } from './safetensors.js';
import { readSafetensors } from './safetensors-file.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'flux-to-kohya-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const tensor = (shape: number[], seed: number): Tensor => ({
  dtype: 'F16',
  shape,
  data: encodeFloats(
    'F16',
    Float32Array.from({ length: shape[0]! * shape[1]! }, (_, i) => Math.cos(seed + i) / 4),
  ),
});

/** A diffusers Flux LoRA as FluxPipeline.save_lora_weights writes it: q/k/v + proj_out of one block, rank 2, alpha 4. */
function writeFluxLora(path: string): void {
  const tensors = new Map<string, Tensor>();
  for (const [index, module] of ['attn.to_q', 'attn.to_k', 'attn.to_v', 'proj_out'].entries()) {
    const inFeatures = module === 'proj_out' ? 8 + 4 * 8 : 8; // linear2 reads attention + MLP
    tensors.set(`transformer.single_transformer_blocks.0.${module}.lora_A.weight`, tensor([2, inFeatures], index));
    tensors.set(`transformer.single_transformer_blocks.0.${module}.lora_B.weight`, tensor([8, 2], index + 10));
  }
  const metadata = { lora_adapter_metadata: JSON.stringify({ 'transformer.r': 2, 'transformer.lora_alpha': 4 }) };
  writeFileSync(path, serializeSafetensors({ metadata, tensors }));
}

describe('convertFluxPeftFileToKohya', () => {
  it('writes fused linear1 and plain linear2 modules with alphas and the A1111 hashes', async () => {
    const input = join(dir, 'pytorch_lora_weights.safetensors');
    const output = join(dir, 'flux_style.safetensors');
    writeFluxLora(input);
    const summary = await convertFluxPeftFileToKohya({ input, output, metadata: { ss_network_dim: '2' } });
    expect(summary).toMatchObject({ modules: 2, tensors: 6, alphaSources: { unet: 'lora_adapter_metadata' } });
    const written = await readSafetensors(output);
    expect([...written.tensors.keys()].sort()).toEqual([
      'lora_unet_single_blocks_0_linear1.alpha',
      'lora_unet_single_blocks_0_linear1.lora_down.weight',
      'lora_unet_single_blocks_0_linear1.lora_up.weight',
      'lora_unet_single_blocks_0_linear2.alpha',
      'lora_unet_single_blocks_0_linear2.lora_down.weight',
      'lora_unet_single_blocks_0_linear2.lora_up.weight',
    ]);
    // q, k, v of width 8 and the (untrained) MLP of 4 × 8 rows; ranks stacked: 3 × 2.
    expect(written.tensors.get('lora_unet_single_blocks_0_linear1.lora_up.weight')).toMatchObject({
      dtype: 'F16',
      shape: [7 * 8, 6],
    });
    expect(alphaValue(written.tensors.get('lora_unet_single_blocks_0_linear1.alpha')!)).toBe(12); // scale 4/2 = 12/6
    expect(alphaValue(written.tensors.get('lora_unet_single_blocks_0_linear2.alpha')!)).toBe(4);
    expect(written.metadata.ss_network_dim).toBe('2');
    expect(written.metadata.sshs_model_hash).toBe(summary.modelHash);
  });

  it('refuses to overwrite its input', async () => {
    const input = join(dir, 'pytorch_lora_weights.safetensors');
    writeFluxLora(input);
    await expect(convertFluxPeftFileToKohya({ input, output: input, metadata: {} })).rejects.toMatchObject({
      code: 'output_is_input',
    });
  });
});

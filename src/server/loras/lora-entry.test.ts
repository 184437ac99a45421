// Which files the studio lists as LoRAs and what it shows of them, from `inspect` reports built from key names.
import { describe, expect, it } from 'vitest';
import { LoraScriptsError } from '../../errors.js';
import { inspectLora, type TensorInfo } from '../../lora/index.js';
import { jobIdsByOutput, loraEntryOf, loraKeyFormat, loraName, requireLoraFormat } from './lora-entry.js';

/** A report on a header of these tensors (shapes only; no data is read). */
function reportOf(shapes: Record<string, number[]>, metadata: Record<string, string> = {}) {
  const tensors = new Map<string, TensorInfo>(
    Object.entries(shapes).map(([name, shape]) => [name, { dtype: 'F16', shape, dataOffsets: [0, 0] }]),
  );
  return inspectLora({ fileName: 'x.safetensors', sizeBytes: 1, metadata, tensors, alphas: new Map() });
}

// 1×1-conv shapes, as SD 1.x's proj_in/proj_out have.
const kohyaModule = (name: string, rank: number) => ({
  [`lora_unet_${name}.lora_down.weight`]: [rank, 320, 1, 1],
  [`lora_unet_${name}.lora_up.weight`]: [320, rank, 1, 1],
  [`lora_unet_${name}.alpha`]: [],
});
const FILE = { path: 'output/a/a.safetensors', bytes: 10, modifiedAt: new Date('2026-01-02T03:04:05Z') };

describe('loraKeyFormat', () => {
  it('tells kohya keys (LyCORIS written by sd-scripts too) from diffusers keys', () => {
    expect(loraKeyFormat(reportOf(kohyaModule('down_blocks_0_attentions_0_proj_in', 4)))).toBe('kohya');
    const loha = {
      'lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a': [320, 4],
      'lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_b': [4, 320],
      'lora_unet_down_blocks_0_attentions_0_proj_in.hada_w2_a': [320, 4],
      'lora_unet_down_blocks_0_attentions_0_proj_in.hada_w2_b': [4, 320],
    };
    expect(loraKeyFormat(reportOf(loha))).toBe('kohya');
    const peft = {
      'unet.down_blocks.0.attentions.0.proj_in.lora_A.weight': [4, 320],
      'unet.down_blocks.0.attentions.0.proj_in.lora_B.weight': [320, 4],
    };
    expect(loraKeyFormat(reportOf(peft))).toBe('diffusers');
  });

  it('lists no base model, latent cache or other layout, and refuses them naming the file', () => {
    const checkpoint = reportOf({ 'model.diffusion_model.input_blocks.0.0.weight': [320, 4, 3, 3] });
    const latents = reportOf({ latents: [4, 8, 8] });
    const comfy = reportOf({
      'diffusion_model.input_blocks.1.1.proj_in.lora_down.weight': [4, 320],
      'diffusion_model.input_blocks.1.1.proj_in.lora_up.weight': [320, 4],
    });
    for (const report of [checkpoint, latents, comfy]) expect(loraKeyFormat(report)).toBeNull();
    expect(loraEntryOf(checkpoint, FILE, null)).toBeNull();
    const refusal = (() => {
      try {
        requireLoraFormat(checkpoint, 'models/base.safetensors');
      } catch (error) {
        return error as LoraScriptsError;
      }
    })();
    expect(refusal).toBeInstanceOf(LoraScriptsError);
    expect(refusal?.code).toBe('not_a_lora');
    expect(refusal?.line).toBe(
      '`models/base.safetensors`: is not a LoRA the studio reads (single-file model, not a LoRA)',
    );
    expect(() => requireLoraFormat(comfy, 'c.safetensors')).toThrow('(comfyui LoRA keys)');
  });
});

describe('loraEntryOf', () => {
  it('shows the rank most layers have, the saved step and the base model from the metadata', () => {
    const report = reportOf(
      {
        ...kohyaModule('down_blocks_0_attentions_0_proj_in', 8),
        ...kohyaModule('down_blocks_0_attentions_0_proj_out', 4),
        ...kohyaModule('down_blocks_0_attentions_1_proj_in', 4),
      },
      { ss_steps: '300', ss_sd_model_name: 'sd15.safetensors', ss_base_model_version: 'sd_v1' },
    );
    expect(loraEntryOf(report, FILE, 'job-1')).toEqual({
      path: 'output/a/a.safetensors',
      name: 'a',
      bytes: 10,
      modified_at: '2026-01-02T03:04:05.000Z',
      format: 'kohya',
      family: 'sd1',
      rank: 4,
      steps: 300,
      base_model: 'sd15.safetensors',
      job_id: 'job-1',
    });
  });

  it('leaves unknown facts null: a LoRA without training metadata', () => {
    const entry = loraEntryOf(reportOf(kohyaModule('down_blocks_0_attentions_0_proj_in', 4)), FILE, null);
    expect(entry).toMatchObject({ steps: null, base_model: null, job_id: null, rank: 4 });
  });
});

describe('jobIdsByOutput and loraName', () => {
  it('links a file to the newest job that lists it', () => {
    const owners = jobIdsByOutput([
      { id: 'new', outputs: ['out/a.safetensors'] },
      { id: 'old', outputs: ['out/a.safetensors', 'out/b.safetensors'] },
    ]);
    expect(Object.fromEntries(owners)).toEqual({ 'out/a.safetensors': 'new', 'out/b.safetensors': 'old' });
    expect(loraName('output/江南/江南.safetensors')).toBe('江南');
  });
});

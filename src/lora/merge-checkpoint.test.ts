// merge on small hand-built checkpoints: changed weights equal W + w·(α/r)·up@down rounded once to the tensor's own
// dtype, every other tensor is copied bit for bit, the base is untouched, and mismatches are named errors.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectCheckpoint } from '../checkpoint/index.js';
import { decodeFloats, encodeFloats, type FloatDtype } from './float-codec.js';
import { LoraFileError } from './lora-file-error.js';
import { mergeLorasIntoCheckpoint } from './merge-checkpoint.js';
import { parseSafetensors, serializeSafetensors, type Dtype, type Tensor } from './safetensors.js';
import { seededUniform } from '../testing/seeded-random.js';

function randomFloats(count: number, seed: number, scale = 1): Float32Array {
  const next = seededUniform(seed);
  return Float32Array.from({ length: count }, () => (next() - 0.5) * scale);
}

const tensor = (dtype: FloatDtype, shape: number[], seed: number, scale = 1): Tensor => ({
  dtype,
  shape,
  data: encodeFloats(
    dtype,
    randomFloats(
      shape.reduce((a, b) => a * b, 1),
      seed,
      scale,
    ),
  ),
});
const raw = (dtype: Dtype, shape: number[], bytes: number[]): Tensor => ({
  dtype,
  shape,
  data: Uint8Array.from(bytes),
});

const Q = 'model.diffusion_model.input_blocks.1.1.transformer_blocks.0.attn1.to_q.weight';
const CONV = 'model.diffusion_model.input_blocks.1.0.in_layers.2.weight';
const TE_Q = 'cond_stage_model.transformer.text_model.encoder.layers.0.self_attn.q_proj.weight';
const IN_PROJ = 'cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight';

/** A tiny SD1-layout checkpoint: F16 UNet, BF16 text encoder, plus tensors no LoRA touches (odd dtypes too). */
function sd1Checkpoint(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    [Q, tensor('F16', [8, 8], 1)],
    [CONV, tensor('F32', [8, 4, 3, 3], 2)],
    ['model.diffusion_model.input_blocks.1.0.in_layers.0.weight', tensor('F16', [4], 3)],
    [TE_Q, tensor('BF16', [6, 6], 4)],
    [
      'cond_stage_model.transformer.text_model.embeddings.position_ids',
      raw('I64', [1, 2], [0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
    ],
    ['first_stage_model.decoder.conv_in.weight', tensor('F16', [3], 5)],
  ]);
}

function sd2Checkpoint(): Map<string, Tensor> {
  return new Map<string, Tensor>([
    [Q, tensor('F32', [8, 8], 1)],
    [IN_PROJ, tensor('F32', [18, 6], 6)],
    ['first_stage_model.decoder.conv_in.weight', tensor('F16', [3], 5)],
  ]);
}

interface Module {
  name: string;
  down: Tensor;
  up: Tensor;
  alpha?: number;
}

const kohyaLora = (modules: Module[]) =>
  new Map<string, Tensor>(
    modules.flatMap(({ name, down, up, alpha }) => [
      [`${name}.lora_down.weight`, down] as const,
      [`${name}.lora_up.weight`, up] as const,
      ...(alpha === undefined
        ? []
        : [
            [
              `${name}.alpha`,
              { dtype: 'F32', shape: [], data: new Uint8Array(Float32Array.of(alpha).buffer) },
            ] as const,
          ]),
    ]),
  );

function write(dir: string, name: string, tensors: Map<string, Tensor>, metadata: Record<string, string> = {}): string {
  const path = join(dir, name);
  writeFileSync(path, serializeSafetensors({ metadata, tensors }));
  return path;
}

/** The reference: W + c·up@down in float64, rounded once through float32 to `dtype` (down may be a conv kernel). */
function expectedMerge(
  w: Tensor,
  terms: Array<{ up: Tensor; down: Tensor; c: number; rowOffset?: number }>,
): Uint8Array {
  const values = decodeFloats(w.dtype as FloatDtype, w.data);
  const cols = w.shape.slice(1).reduce((a, b) => a * b, 1);
  for (const { up, down, c, rowOffset = 0 } of terms) {
    const u = decodeFloats(up.dtype as FloatDtype, up.data);
    const d = decodeFloats(down.dtype as FloatDtype, down.data);
    const rank = down.shape[0]!;
    for (let i = 0; i < up.shape[0]!; i++) {
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let t = 0; t < rank; t++) sum += u[i * rank + t]! * d[t * cols + j]!;
        values[(rowOffset + i) * cols + j]! += c * sum;
      }
    }
  }
  return encodeFloats(w.dtype as FloatDtype, values);
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/**
 * How far the merge is from the reference: for F16/BF16, in units in the last place (float32 sums in another order
 * may round a tie the other way: at most 1); for F32, the largest absolute difference over 1e-6 (float32 epsilon
 * at these magnitudes, ~1), since ulps near zero are meaninglessly small.
 */
function maxUlpDiff(dtype: FloatDtype, a: Uint8Array, b: Uint8Array): number {
  if (dtype === 'F32') {
    const [x, y] = [decodeFloats('F32', a), decodeFloats('F32', b)];
    return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!) / 1e-6), 0);
  }
  const [x, y] = [new Int16Array(new Uint8Array(a).buffer), new Int16Array(new Uint8Array(b).buffer)];
  return x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);
}

describe('mergeLorasIntoCheckpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'merge-'));
  const base = write(dir, 'base.safetensors', sd1Checkpoint(), { format: 'pt', note: 'kept' });
  const qModule = {
    name: 'lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q',
    down: tensor('F16', [2, 8], 10),
    up: tensor('F16', [8, 2], 11),
    alpha: 1,
  };
  const convModule = {
    name: 'lora_unet_down_blocks_0_resnets_0_conv1',
    down: tensor('F32', [2, 4, 3, 3], 12),
    up: tensor('F32', [8, 2, 1, 1], 13),
    alpha: 4,
  };
  const teModule = {
    name: 'lora_te_text_model_encoder_layers_0_self_attn_q_proj',
    down: tensor('F32', [3, 6], 14),
    up: tensor('F32', [6, 3], 15),
  };
  const loraA = write(dir, 'a.safetensors', kohyaLora([qModule, convModule, teModule]), { sshs_model_hash: 'abc' });
  const loraB = write(
    dir,
    'b.safetensors',
    kohyaLora([{ ...qModule, down: tensor('F32', [1, 8], 16), up: tensor('F32', [8, 1], 17), alpha: 0.5 }]),
  );

  it('adds every LoRA term in float32 and keeps each tensor’s dtype; copies the rest bit for bit', async () => {
    const baseHash = sha(base);
    const output = join(dir, 'merged.safetensors');
    const summary = await mergeLorasIntoCheckpoint({
      base,
      baseFamily: 'sd1',
      loras: [
        { path: loraA, weight: 0.7 },
        { path: loraB, weight: -1.5 },
      ],
      output,
    });
    expect(summary).toMatchObject({ family: 'SD 1.x', changedTensors: 3, copiedTensors: 3, modules: 4 });
    const merged = parseSafetensors(readFileSync(output), output);
    const original = sd1Checkpoint();
    expect([...merged.tensors.keys()].sort()).toEqual([...original.keys()].sort());
    for (const [key, before] of original) {
      const after = merged.tensors.get(key)!;
      expect([after.dtype, after.shape]).toEqual([before.dtype, before.shape]);
      if (![Q, CONV, TE_Q].includes(key)) expect(Buffer.compare(after.data, before.data), key).toBe(0);
    }
    const expected = {
      [Q]: expectedMerge(original.get(Q)!, [
        { ...qModule, c: (0.7 * 1) / 2 },
        { up: loraBUp(), down: loraBDown(), c: (-1.5 * 0.5) / 1 },
      ]),
      [CONV]: expectedMerge(original.get(CONV)!, [{ ...convModule, c: (0.7 * 4) / 2 }]),
      [TE_Q]: expectedMerge(original.get(TE_Q)!, [{ ...teModule, c: 0.7 }]), // no alpha: alpha = rank
    };
    for (const [key, bytes] of Object.entries(expected)) {
      const after = merged.tensors.get(key)!;
      expect(Buffer.compare(after.data, original.get(key)!.data), `${key} changed`).not.toBe(0);
      expect(maxUlpDiff(after.dtype as FloatDtype, after.data, bytes), key).toBeLessThanOrEqual(1);
    }
    expect(merged.metadata).toMatchObject({ format: 'pt', note: 'kept' });
    expect(JSON.parse(merged.metadata['lora_scripts.merged_loras']!)).toEqual([
      { file: 'a.safetensors', weight: 0.7, modules: 3, sshs_model_hash: 'abc' },
      { file: 'b.safetensors', weight: -1.5, modules: 1 },
    ]);
    expect(sha(base)).toBe(baseHash);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  function loraBUp() {
    return parseSafetensors(readFileSync(loraB), loraB).tensors.get(`${qModule.name}.lora_up.weight`)!;
  }
  function loraBDown() {
    return parseSafetensors(readFileSync(loraB), loraB).tensors.get(`${qModule.name}.lora_down.weight`)!;
  }

  it('changes only the k rows of an OpenCLIP fused in_proj_weight (SD 2.x)', async () => {
    const base2 = write(dir, 'base2.safetensors', sd2Checkpoint());
    const k = {
      name: 'lora_te_text_model_encoder_layers_0_self_attn_k_proj',
      down: tensor('F32', [2, 6], 20),
      up: tensor('F32', [6, 2], 21),
      alpha: 2,
    };
    const lora = write(dir, 'k.safetensors', kohyaLora([k]));
    const output = join(dir, 'merged2.safetensors');
    await mergeLorasIntoCheckpoint({ base: base2, baseFamily: 'sd2', loras: [{ path: lora, weight: 1 }], output });
    const before = sd2Checkpoint().get(IN_PROJ)!;
    const after = parseSafetensors(readFileSync(output), output).tensors.get(IN_PROJ)!;
    const rowBytes = 6 * 4;
    expect(
      Buffer.compare(
        Buffer.from(after.data.subarray(0, 6 * rowBytes)),
        Buffer.from(before.data.subarray(0, 6 * rowBytes)),
      ),
    ).toBe(0);
    expect(
      Buffer.compare(Buffer.from(after.data.subarray(12 * rowBytes)), Buffer.from(before.data.subarray(12 * rowBytes))),
    ).toBe(0);
    expect(maxUlpDiff('F32', after.data, expectedMerge(before, [{ ...k, c: 1, rowOffset: 6 }]))).toBeLessThanOrEqual(1);
  });

  const failure = async (run: () => Promise<unknown>) => {
    try {
      await run();
    } catch (error) {
      if (error instanceof LoraFileError) return [error.code, error.line, error.hint];
      throw error;
    }
    throw new Error('merged');
  };

  it('names a module the base does not have, and writes nothing', async () => {
    const lora = write(
      dir,
      'odd.safetensors',
      kohyaLora([{ ...qModule, name: 'lora_unet_down_blocks_2_attentions_0_proj_in' }]),
    );
    const output = join(dir, 'never.safetensors');
    expect(
      await failure(() =>
        mergeLorasIntoCheckpoint({ base, baseFamily: 'sd1', loras: [{ path: lora, weight: 1 }], output }),
      ),
    ).toEqual([
      'module_not_in_base',
      `${lora}: module \`lora_unet_down_blocks_2_attentions_0_proj_in\` matches no weight of \`${base}\` (SD 1.x)`,
      'merge a LoRA into the base model family it was trained on (SD 1.x, SD 2.x or SDXL)',
    ]);
    expect(existsSync(output)).toBe(false);
  });

  it('names a module whose shape differs from the base weight (an SD 2.x LoRA on SD 1.x)', async () => {
    const lora = write(dir, 'wide.safetensors', kohyaLora([{ ...qModule, down: tensor('F16', [2, 10], 1) }]));
    expect(
      await failure(() =>
        mergeLorasIntoCheckpoint({
          base,
          baseFamily: 'sd1',
          loras: [{ path: lora, weight: 1 }],
          output: join(dir, 'x.safetensors'),
        }),
      ),
    ).toEqual([
      'lora_shape_mismatch',
      `${lora}: module \`${qModule.name}\` makes a 8×10 change, but \`${Q}\` is [8,8]`,
      'merge a LoRA into the base model family it was trained on (SD 1.x, SD 2.x or SDXL)',
    ]);
  });

  it('refuses an SDXL LoRA on an SD 1.x checkpoint by family, before any module', async () => {
    const lora = write(
      dir,
      'xl.safetensors',
      kohyaLora([{ ...teModule, name: 'lora_te2_text_model_encoder_layers_0_self_attn_q_proj' }]),
    );
    const [code, line] = (await failure(() =>
      mergeLorasIntoCheckpoint({
        base,
        baseFamily: 'sd1',
        loras: [{ path: lora, weight: 1 }],
        output: join(dir, 'x.safetensors'),
      }),
    ))!;
    expect(code).toBe('lora_family_mismatch');
    expect(line).toMatch(new RegExp(`^${lora}: is a LoRA for SDXL \\(.+\\), but \`${base}\` is an SD 1.x checkpoint$`));
  });

  it('judges the hand-built bases as the merge assumes, refuses a LoRA as the base, and an output that is an input', async () => {
    // The CLI's pre-flight (src/checkpoint) gives merge its family; a LoRA never gets that far.
    expect(inspectCheckpoint(base, { cwd: dir }).family).toBe('sd1');
    expect(inspectCheckpoint(write(dir, 'sd2.safetensors', sd2Checkpoint()), { cwd: dir }).family).toBe('sd2');
    expect(inspectCheckpoint(loraA, { cwd: dir }).kind).toBe('lora');
    expect(
      (await failure(() =>
        mergeLorasIntoCheckpoint({ base, baseFamily: 'sd1', loras: [{ path: loraA, weight: 1 }], output: base }),
      ))![0],
    ).toBe('output_is_input');
  });
});

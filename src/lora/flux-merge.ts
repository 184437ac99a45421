// `merge` into a Flux.1 transformer file (Black Forest Labs' layout: flux1-dev.safetensors, or ComfyUI's prefixed
// copy), streamed and atomic like the SD merge (merge-checkpoint.ts streamMerge). Every LoRA is read under kohya
// names (flux-lora-file.ts), which are BFL's module names: kohya's fused qkv / linear1 deltas add to BFL's fused
// weights row for row (flux-keys.ts), so W' = W + Σ wᵢ·(αᵢ/rᵢ)·upᵢ@downᵢ with no splitting.
import { fluxCheckpointTargets } from './flux-keys.js';
import { fluxFactors, fluxKohyaTensors, fluxLoraNaming } from './flux-lora-file.js';
import { isFloatDtype } from './float-codec.js';
import { LoraFileError } from './lora-file-error.js';
import type { MergeTarget } from './checkpoint-targets.js';
import { streamMerge, type MergeSummary, type StreamMergeOptions } from './merge-checkpoint.js';
import type { Contribution, LoraToMerge } from './merge-plan.js';
import { readSafetensors } from './safetensors-file.js';
import type { TensorInfo } from './safetensors.js';

export const FLUX_FAMILY_NAME = 'Flux.1';

const WRONG_BASE_HINT = 'merge a Flux LoRA into the Flux transformer it was trained on (FLUX.1-dev or -schnell)';

/** Merges Flux LoRAs (any naming) into a BFL-layout transformer file; `base` must be one (src/checkpoint says so). */
export async function mergeLorasIntoFlux(options: StreamMergeOptions): Promise<MergeSummary> {
  return streamMerge(options, async (header) => {
    const targets = fluxCheckpointTargets(header.tensors);
    if (!targets) {
      throw new LoraFileError(
        'holds no Flux transformer in BFL layout (no `double_blocks.0.img_attn.norm.key_norm.scale`)',
        {
          code: 'not_a_flux_checkpoint',
          culprit: options.base,
          hint: 'give flux1-dev.safetensors / flux1-schnell.safetensors or a ComfyUI Flux checkpoint',
        },
      );
    }
    const loras: LoraToMerge[] = [];
    for (const { path, weight } of options.loras) loras.push(await readFluxLora(path, weight, options.base));
    return { familyName: FLUX_FAMILY_NAME, plan: planFluxMerge(targets, header.tensors, loras, options.base), loras };
  });
}

async function readFluxLora(path: string, weight: number, base: string): Promise<LoraToMerge> {
  const content = await readSafetensors(path);
  if (!fluxLoraNaming(content.tensors.keys())) {
    throw new LoraFileError(
      `is not a Flux LoRA (no \`double_blocks\`/\`single_blocks\` modules), but \`${base}\` is a Flux.1 transformer`,
      { code: 'lora_family_mismatch', culprit: path, hint: WRONG_BASE_HINT },
    );
  }
  const modules = fluxFactors(fluxKohyaTensors(content, path), path);
  const modelHash = content.metadata.sshs_model_hash;
  return { fileName: path, weight, modules, ...(modelHash ? { modelHash } : {}) };
}

/** BFL key → its contributions, in the order the LoRAs were given; a module the base lacks or does not fit is an error. */
export function planFluxMerge(
  targets: ReadonlyMap<string, MergeTarget>,
  tensors: ReadonlyMap<string, TensorInfo>,
  loras: readonly LoraToMerge[],
  base: string,
): Map<string, Contribution[]> {
  const plan = new Map<string, Contribution[]>();
  for (const lora of loras) {
    for (const module of lora.modules) {
      const target = targets.get(module.lookupName);
      if (!target) {
        throw new LoraFileError(`module \`${module.name}\` matches no weight of \`${base}\` (${FLUX_FAMILY_NAME})`, {
          code: 'module_not_in_base',
          culprit: lora.fileName,
          hint: WRONG_BASE_HINT,
        });
      }
      const info = tensors.get(target.key)!;
      const [rows = 0, cols = 0] = info.shape;
      if (module.up.rows !== rows || module.down.cols !== cols) {
        throw new LoraFileError(
          `module \`${module.name}\` makes a ${module.up.rows}×${module.down.cols} change, but \`${target.key}\` is ${JSON.stringify(info.shape)}`,
          { code: 'lora_shape_mismatch', culprit: lora.fileName, hint: WRONG_BASE_HINT },
        );
      }
      if (!isFloatDtype(info.dtype)) {
        throw new LoraFileError(`\`${target.key}\` is ${info.dtype}; only F32, F16 and BF16 weights can take a LoRA`, {
          code: 'unsupported_dtype',
          culprit: base,
          hint: 'merge into an unquantized Flux transformer (fp8 and GGUF files cannot be merged exactly)',
        });
      }
      const scale = (lora.weight * module.alpha) / module.rank;
      plan.set(target.key, [
        ...(plan.get(target.key) ?? []),
        { up: module.up, down: module.down, scale, rowOffset: 0 },
      ]);
    }
  }
  return plan;
}

// LoRA modules → the kohya/WebUI tensors: `<kohya name>.lora_down.weight`, `.lora_up.weight`, `.alpha`. Pure.
import { alphaTensor, type AlphaDtype } from './alpha-tensor.js';
import type { LoraModule } from './lora-modules.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

export interface KohyaContentOptions {
  /** Carried metadata (`ss_*`, `modelspec.*`, …). */
  metadata: Readonly<Record<string, string>>;
  /** For alphas the input did not store as tensors; default F32 (see to-kohya.ts). */
  alphaDtype?: AlphaDtype;
  /** Names the output in errors. */
  culprit: string;
}

/** A module read from a kohya file keeps its `.alpha` tensor byte for byte; others get one made from `alpha`. */
export function kohyaContent(modules: readonly LoraModule[], options: KohyaContentOptions): SafetensorsContent {
  const tensors = new Map<string, Tensor>();
  for (const module of modules) {
    tensors.set(`${module.kohyaName}.lora_down.weight`, module.down);
    tensors.set(`${module.kohyaName}.lora_up.weight`, module.up);
    tensors.set(
      `${module.kohyaName}.alpha`,
      module.alphaTensor ?? alphaTensor(module.alpha, options.alphaDtype ?? 'F32', options.culprit),
    );
  }
  return { metadata: options.metadata, tensors };
}

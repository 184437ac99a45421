// LoRA modules → the diffusers/PEFT file `save_lora_weights` writes: `unet.<path>.lora_A.weight` keys and the
// LoraConfig per component in `lora_adapter_metadata`, with rank_pattern/alpha_pattern where modules differ, so
// diffusers' load_lora_weights applies each module's kohya scale alpha/rank. Weight bytes are shared, not copied. Pure.
import type { LoraComponent } from './kohya-keys.js';
import { LAYERS_PER_BLOCK_KEY, type LoraModule } from './lora-modules.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

/** Metadata key recording the kohya alphas' dtype, so diffusers → kohya gives back bit-identical alpha tensors. */
export const KOHYA_ALPHA_DTYPE_KEY = 'lora_scripts.kohya_alpha_dtype';

export function peftContent(
  modules: readonly LoraModule[],
  carried: Readonly<Record<string, string>>,
  layersPerBlock = 2,
): SafetensorsContent {
  const tensors = new Map<string, Tensor>();
  for (const module of modules) {
    tensors.set(`${module.component}.${module.path}.lora_A.weight`, module.down);
    tensors.set(`${module.component}.${module.path}.lora_B.weight`, module.up);
  }
  const alphaDtype = sharedAlphaDtype(modules);
  const metadata = {
    format: 'pt',
    lora_adapter_metadata: adapterMetadataJson(modules),
    ...carried,
    ...(alphaDtype ? { [KOHYA_ALPHA_DTYPE_KEY]: alphaDtype } : {}),
    ...(layersPerBlock !== 2 ? { [LAYERS_PER_BLOCK_KEY]: String(layersPerBlock) } : {}),
  };
  return { metadata, tensors };
}

function sharedAlphaDtype(modules: readonly LoraModule[]): string | undefined {
  const dtypes = new Set(modules.map((m) => m.alphaTensor?.dtype));
  const [only] = dtypes;
  return dtypes.size === 1 && (only === 'F16' || only === 'BF16' || only === 'F32') ? only : undefined;
}

/**
 * The flattened `"<component>.<field>"` JSON diffusers writes (sorted keys, 2-space indent). Patterns name whole
 * module paths; PEFT matches them as `(.*\.)?(pattern)$`, so text-encoder paths leave out `text_model.` and match
 * both transformers 4 (`text_model.encoder…`) and 5 (flattened `encoder…`) CLIP modules.
 */
export function adapterMetadataJson(modules: readonly LoraModule[]): string {
  const flat: Record<string, unknown> = {};
  for (const component of ['unet', 'text_encoder', 'text_encoder_2'] as const) {
    const own = modules.filter((m) => m.component === component);
    if (own.length === 0) continue;
    for (const [field, value] of Object.entries(componentConfig(own, component))) flat[`${component}.${field}`] = value;
  }
  const sorted = Object.fromEntries(Object.entries(flat).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify(sorted, null, 2);
}

function componentConfig(modules: readonly LoraModule[], component: LoraComponent): Record<string, unknown> {
  const pattern = (m: LoraModule) => (component === 'unet' ? m.path : m.path.replace(/^text_model\./, ''));
  const r = mostCommon(modules.map((m) => m.rank));
  const loraAlpha = mostCommon(modules.map((m) => m.alpha));
  return {
    alpha_pattern: Object.fromEntries(modules.filter((m) => m.alpha !== loraAlpha).map((m) => [pattern(m), m.alpha])),
    bias: 'none',
    lora_alpha: loraAlpha,
    peft_type: 'LORA',
    r,
    rank_pattern: Object.fromEntries(modules.filter((m) => m.rank !== r).map((m) => [pattern(m), m.rank])),
    target_modules: [...new Set(modules.map(pattern))].sort(),
    use_dora: false,
    use_rslora: false,
  };
}

/** The most frequent value; ties go to the one seen first (as Python's Counter.most_common does). */
function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  let best = values[0] ?? 0;
  for (const [value, count] of counts) if (count > (counts.get(best) ?? 0)) best = value;
  return best;
}

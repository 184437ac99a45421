// A LyCORIS LoHa or DoRA file → the engine's peft layout: `unet.<path>.<part>` keys and a `lora_adapter_metadata`
// that peft rebuilds the adapter from (networks.load_saved_file). Pure; factor bytes are shared, not re-encoded.
// LoKr is refused: peft derives its factor shapes from one `decompose_factor` per adapter, which a LyCORIS file
// does not have to match (docs/formats/lycoris.md §1).
import type { BaseFamily, LoraComponent } from './kohya-keys.js';
import { kohyaModulePath } from './kohya-module-path.js';
import { LoraFileError } from './lora-file-error.js';
import type { LycorisModule, LycorisModuleSet } from './lycoris-modules.js';
import type { Tensor } from './safetensors.js';
import { SD_UNET_LAYOUT, sdxlUnetLayout } from './unet-ldm-layout.js';

export interface PeftContent {
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
}

// LyCORIS part → peft's key ending. LoHa keeps its names.
const PEFT_PARTS: Readonly<Record<string, string>> = {
  'lora_down.weight': 'lora_A.weight',
  'lora_up.weight': 'lora_B.weight',
};

export function lycorisToPeft(
  set: LycorisModuleSet,
  options: { family: BaseFamily; fileName: string; layersPerBlock?: number },
): PeftContent {
  if (set.network === 'lokr' || set.network === 'lora') {
    throw new LoraFileError(`is a LyCORIS ${set.network === 'lokr' ? 'LoKr' : 'LoRA'} file; it has no peft form here`, {
      code: 'conversion_not_defined',
      culprit: options.fileName,
      hint:
        set.network === 'lokr'
          ? "peft rebuilds LoKr's factor shapes from one factor per adapter; use the file as it is, or `lora-scripts merge`"
          : 'plain LoRA files convert through the ordinary path',
    });
  }
  const odd = set.modules.find((m) => (set.network === 'loha' ? m.kind !== 'loha' : m.kind !== 'lora' || !m.doraScale));
  if (odd) {
    throw new LoraFileError(
      `mixes ${set.network === 'loha' ? 'LoHa' : 'DoRA'} modules with others (\`${odd.kohyaName}\`); one peft config cannot hold both`,
      {
        code: 'conversion_not_defined',
        culprit: options.fileName,
        hint: '`lora-scripts merge` bakes it into a checkpoint',
      },
    );
  }
  const layout = options.family === 'sdxl' ? sdxlUnetLayout(options.layersPerBlock ?? 2) : SD_UNET_LAYOUT;
  const tensors = new Map<string, Tensor>();
  const byComponent = new Map<LoraComponent, Array<{ path: string; rank: number; alpha: number }>>();
  for (const module of set.modules) {
    const { component, path } = kohyaModulePath(module.kohyaName, layout);
    const rank = module.rank ?? 1;
    for (const [part, tensor] of module.factors)
      tensors.set(`${component}.${path}.${PEFT_PARTS[part] ?? part}`, tensor);
    if (module.doraScale)
      tensors.set(`${component}.${path}.lora_magnitude_vector`, peftMagnitude(module, options.fileName));
    const modules = byComponent.get(component) ?? [];
    // Matched as name endings, so without the `text_model.` wrapper they fit CLIP models with and without it.
    modules.push({ path: path.replace(/^text_model\./, ''), rank, alpha: module.alpha ?? rank });
    byComponent.set(component, modules);
  }
  const metadata: Record<string, unknown> = {};
  for (const [component, modules] of byComponent) {
    for (const [field, value] of Object.entries(componentConfig(set.network, modules)))
      metadata[`${component}.${field}`] = value;
  }
  return { tensors, metadata: { format: 'pt', lora_adapter_metadata: JSON.stringify(metadata) } };
}

/** LyCORIS' per-output `dora_scale` as peft's magnitude: [out] for Linear, [1, out, 1, 1] for Conv2d. */
function peftMagnitude(module: LycorisModule, fileName: string): Tensor {
  const scale = module.doraScale!;
  const [out = 0, ...rest] = scale.shape;
  if (rest.some((d) => d !== 1)) {
    throw new LoraFileError(
      `\`${module.kohyaName}.dora_scale\` is per input channel ${JSON.stringify(scale.shape)}; peft's DoRA is per output row`,
      { code: 'conversion_not_defined', culprit: fileName, hint: '`lora-scripts merge` bakes it into a checkpoint' },
    );
  }
  return { dtype: scale.dtype, shape: scale.shape.length === 4 ? [1, out, 1, 1] : [out], data: scale.data };
}

/** The peft config fields: the most common rank and alpha, patterns (exact module paths) for the rest. */
function componentConfig(
  network: 'loha' | 'dora',
  modules: ReadonlyArray<{ path: string; rank: number; alpha: number }>,
): Record<string, unknown> {
  const r = mostCommon(modules.map((m) => m.rank));
  const alpha = mostCommon(modules.map((m) => m.alpha));
  const escaped = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const rankPattern = Object.fromEntries(modules.filter((m) => m.rank !== r).map((m) => [escaped(m.path), m.rank]));
  const alphaPattern = Object.fromEntries(
    modules.filter((m) => m.alpha !== alpha).map((m) => [escaped(m.path), m.alpha]),
  );
  const shared = {
    r,
    target_modules: modules.map((m) => m.path),
    rank_pattern: rankPattern,
    alpha_pattern: alphaPattern,
  };
  return network === 'loha'
    ? { peft_type: 'LOHA', ...shared, alpha, use_effective_conv2d: false }
    : { peft_type: 'LORA', ...shared, lora_alpha: alpha, use_dora: true };
}

function mostCommon(values: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0]?.[0] ?? 1;
}

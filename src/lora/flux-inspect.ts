// `inspect` for Flux.1 LoRAs: format, family and per-module rank/alpha, decided before the SD detectors (a kohya
// Flux file's `lora_unet_` names would otherwise pass for an SD UNet's whose family nothing tells). Pure.
import { transformerConfig } from './flux-keys.js';
import { FLUX_FAMILY_BASIS, fluxLoraNaming } from './flux-lora-file.js';
import type { InspectInput, InspectReport, ModuleReport } from './inspect.js';
import { familyFromMetadata, type HeaderModule, type LoraFormat } from './lora-format.js';
import { NETWORK_NAMES } from './lycoris-files.js';
import { networkTypeOf } from './lycoris-modules.js';
import { moduleScale } from './peft-adapter-config.js';
import type { ComponentLoraConfig } from './peft-adapter-config.js';

export interface FluxLoraFacts {
  format: LoraFormat;
  family: InspectReport['family'];
  modules: ModuleReport[];
}

const TRANSFORMER_PREFIXES = ['lora_unet_', 'transformer.', 'diffusion_model.'];

/** The Flux-specific parts of an inspect report, or undefined when the file is no Flux LoRA. */
export function fluxLoraFacts(
  input: InspectInput,
  grouped: readonly HeaderModule[],
  problems: string[],
): FluxLoraFacts | undefined {
  const naming = fluxLoraNaming(input.tensors.keys());
  if (naming === undefined) return undefined;
  const network = networkTypeOf(input.tensors.keys());
  const config = adapterConfig(input, problems);
  const modules = grouped
    .map((module) => moduleReport(module, input, config))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const isPlain = network === 'lora' && grouped.every((m) => m.kind === 'lora' && !m.hasDora);
  const onlyTransformer = modules.every((m) => m.component === 'unet');
  const variant = naming === 'diffusers' && network === 'lora' ? 'peft' : NETWORK_NAMES[network];
  return {
    format: { name: naming, variant: `${variant} (Flux.1)`, isConvertible: isPlain && onlyTransformer },
    family: {
      name: 'flux',
      basis: FLUX_FAMILY_BASIS,
      metadataSays: familyFromMetadata(input.metadata)?.family ?? null,
    },
    modules,
  };
}

function adapterConfig(input: InspectInput, problems: string[]): ComponentLoraConfig | undefined {
  try {
    return transformerConfig(input.metadata.lora_adapter_metadata, input.fileName);
  } catch (error) {
    problems.push((error as Error).message);
    return undefined;
  }
}

function moduleReport(
  module: HeaderModule,
  input: InspectInput,
  config: ComponentLoraConfig | undefined,
): ModuleReport {
  const isTransformer = TRANSFORMER_PREFIXES.some((prefix) => module.name.startsWith(prefix));
  return {
    name: module.name,
    // The transformer is Flux's denoiser: it takes the UNet's place (kohya names it `lora_unet_` too).
    component: isTransformer ? 'unet' : (module.component ?? null),
    kind: module.kind,
    rank: module.rank ?? null,
    ...moduleAlpha(module, input, config),
    isConv: module.isConv,
    dtype: module.dtype,
  };
}

function moduleAlpha(
  module: HeaderModule,
  input: InspectInput,
  config: ComponentLoraConfig | undefined,
): Pick<ModuleReport, 'alpha' | 'alphaSource'> {
  const stored = module.parts.alpha === undefined ? undefined : input.alphas.get(module.parts.alpha);
  if (stored !== undefined) return { alpha: stored, alphaSource: 'tensor' };
  if (module.rank === undefined) return { alpha: null, alphaSource: null };
  if (config === undefined || !module.name.startsWith('transformer.'))
    return { alpha: module.rank, alphaSource: 'rank' };
  try {
    const path = module.name.slice('transformer.'.length);
    return {
      alpha: moduleScale(config, path, module.rank, input.fileName).alpha,
      alphaSource: 'lora_adapter_metadata',
    };
  } catch {
    return { alpha: null, alphaSource: null }; // a bad pattern: adapterConfig's problem names the metadata
  }
}

export interface FluxBlockCounts {
  /** Modules in double (joint image/text) blocks, and how many distinct blocks they sit in. */
  double: { modules: number; blocks: number };
  single: { modules: number; blocks: number };
  /** Transformer modules outside the blocks (embedders, final layer). */
  other: number;
}

/** Where a Flux LoRA's transformer modules sit, in any of the three namings. */
export function fluxBlockCounts(modules: ReadonlyArray<Pick<ModuleReport, 'name' | 'component'>>): FluxBlockCounts {
  const double = new Map<string, number>();
  const single = new Map<string, number>();
  let other = 0;
  for (const { name, component } of modules) {
    if (component !== 'unet') continue;
    // single_transformer_blocks contains transformer_blocks: single first.
    const singleBlock = /(?:^|[._])single_(?:transformer_)?blocks[._](\d+)[._]/.exec(name)?.[1];
    const doubleBlock = /(?:^|[._])(?:double_blocks|transformer_blocks)[._](\d+)[._]/.exec(name)?.[1];
    if (singleBlock !== undefined) single.set(singleBlock, (single.get(singleBlock) ?? 0) + 1);
    else if (doubleBlock !== undefined) double.set(doubleBlock, (double.get(doubleBlock) ?? 0) + 1);
    else other++;
  }
  const sum = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
  return {
    double: { modules: sum(double), blocks: double.size },
    single: { modules: sum(single), blocks: single.size },
    other,
  };
}

// `inspect`: a LoRA file's header (plus its alpha scalars and hashes) → a report: key format, base family, rank and
// alpha per layer, layer counts, training metadata, hashes. Pure; inspect-file.ts reads the file.
import type { BaseFamily, LoraComponent } from './kohya-keys.js';
import {
  detectFamily,
  detectFormat,
  familyFromMetadata,
  groupModules,
  type HeaderModule,
  type ModuleKind,
} from './lora-format.js';
import { fluxLoraFacts } from './flux-inspect.js';
import { NETWORK_NAMES } from './lycoris-files.js';
import {
  componentConfigs,
  isLycorisNetwork,
  networkTypeOf,
  peftModuleScale,
  type ComponentConfig,
  type NetworkType,
} from './lycoris-modules.js';
import { moduleScale, parseAdapterMetadata, type AdapterConfigs } from './peft-adapter-config.js';
import type { Dtype, TensorInfo } from './safetensors.js';
import { summarizeTraining, type TrainingSummary } from './training-summary.js';

export interface FileHashes {
  /** sha256 of the whole file: A1111's checkpoint "Model hash" is its first 10 digits. */
  fileSha256: string;
  /** sha256 of the data section (after the header): the "addnet" hash A1111 shows for LoRAs, first 12 digits. */
  addnetSha256: string;
  /** sha256 of the 64 KiB at 1 MiB, first 8 digits: A1111's pre-2023 hash. */
  legacyHash: string;
}

export interface InspectInput {
  fileName: string;
  sizeBytes: number;
  metadata: Readonly<Record<string, string>>;
  tensors: ReadonlyMap<string, TensorInfo>;
  /** Values of the scalar `.alpha` tensors, read from the file. */
  alphas: ReadonlyMap<string, number>;
  hashes?: FileHashes;
}

export type FamilyName = BaseFamily | 'sd1-or-sd2' | 'flux';

export interface ModuleReport {
  name: string;
  component: LoraComponent | null;
  kind: ModuleKind;
  rank: number | null;
  alpha: number | null;
  /** Where alpha came from: the module's `.alpha` tensor, `lora_adapter_metadata`, or alpha = rank (none stored). */
  alphaSource: 'tensor' | 'lora_adapter_metadata' | 'rank' | null;
  isConv: boolean;
  dtype: Dtype;
}

export interface InspectReport {
  file: string;
  sizeBytes: number;
  tensorCount: number;
  dtypes: Partial<Record<Dtype, number>>;
  format: { name: string; variant: string; isConvertible: boolean };
  /** What the file trains: LoRA (incl. LoCon), LoHa, LoKr or DoRA (docs/formats/lycoris.md). */
  network: { type: NetworkType; name: string };
  family: { name: FamilyName | null; basis: string; metadataSays: BaseFamily | null };
  layers: { total: number; unet: number; textEncoder: number; textEncoder2: number };
  /** Distinct values with how many layers have each, most common first. */
  ranks: Array<{ value: number | null; count: number }>;
  alphas: Array<{ value: number | null; count: number }>;
  modules: ModuleReport[];
  hashes: HashReport | null;
  training: TrainingSummary | null;
  /** Our own `lora_scripts.*` metadata, as stored. */
  loraScripts: Record<string, string>;
  /** Things that look wrong but did not stop the report. */
  problems: string[];
}

export interface HashReport extends FileHashes {
  /** What A1111 shows for this LoRA: `sshs_model_hash` if stored (trusted blindly), else the addnet hash; 12 digits. */
  webuiLoraHash: string;
  /** What A1111 shows for a checkpoint: the file's sha256, 10 digits. */
  webuiModelHash: string;
  storedModelHash: string | null;
  storedModelHashMatches: boolean | null;
}

export function inspectLora(input: InspectInput): InspectReport {
  const problems: string[] = [];
  const { modules: grouped, stray } = groupModules(input.tensors);
  const network = networkTypeOf(input.tensors.keys());
  // Flux first: its kohya names look like an SD UNet's to the detectors below.
  const flux = fluxLoraFacts(input, grouped, problems);
  const detected = flux?.format ?? detectFormat([...input.tensors.keys()], grouped, input.metadata.ss_network_module);
  const format = isLycorisConvertible(network, detected.name) ? { ...detected, isConvertible: true } : detected;
  if (stray.length > 0 && format.name !== 'checkpoint')
    problems.push(`${stray.length} keys fit no LoRA module (first: \`${stray[0]}\`)`);
  const isLora = format.name !== 'checkpoint' && format.name !== 'unknown';
  const modules = flux?.modules ?? (isLora ? moduleReports(grouped, input, problems) : []);
  return {
    file: input.fileName,
    sizeBytes: input.sizeBytes,
    tensorCount: input.tensors.size,
    dtypes: countDtypes(input.tensors),
    format,
    network: { type: network, name: NETWORK_NAMES[network] },
    family: flux
      ? flux.family
      : isLora
        ? familyReport(grouped, input)
        : {
            name: null,
            basis: `not a LoRA (${format.variant})`,
            metadataSays: familyFromMetadata(input.metadata)?.family ?? null,
          },
    layers: {
      total: modules.length,
      unet: modules.filter((m) => m.component === 'unet').length,
      textEncoder: modules.filter((m) => m.component === 'text_encoder').length,
      textEncoder2: modules.filter((m) => m.component === 'text_encoder_2').length,
    },
    ranks: distinct(modules.map((m) => m.rank)),
    alphas: distinct(modules.map((m) => m.alpha)),
    modules,
    hashes: input.hashes ? hashReport(input.hashes, input.metadata, problems) : null,
    training: summarizeTraining(input.metadata, problems),
    loraScripts: Object.fromEntries(Object.entries(input.metadata).filter(([key]) => key.startsWith('lora_scripts.'))),
    problems,
  };
}

/**
 * The engine's LoHa/LoKr/DoRA files (peft keys) convert to LyCORIS' kohya layout. LyCORIS LoHa/DoRA files convert
 * back too (`convert --to diffusers`, lycoris-to-peft.ts), but stay `isConvertible: false`: the studio's download
 * offers only conversions every consumer of the other format loads, and diffusers loads neither.
 */
function isLycorisConvertible(network: NetworkType, format: string): boolean {
  return isLycorisNetwork(network) && format === 'diffusers';
}

function moduleReports(grouped: readonly HeaderModule[], input: InspectInput, problems: string[]): ModuleReport[] {
  const isLycoris = isLycorisNetwork(networkTypeOf(input.tensors.keys()));
  const configs = isLycoris ? {} : adapterConfigs(input, problems);
  const lycorisConfigs = isLycoris ? lycorisAdapterConfigs(input, problems) : {};
  return grouped
    .map((module) => {
      const peft = lycorisScale(module, lycorisConfigs, input.fileName);
      const { alpha, alphaSource } = peft
        ? { alpha: peft.alpha, alphaSource: 'lora_adapter_metadata' as const }
        : moduleAlpha(module, input, configs);
      return {
        name: module.name,
        component: module.component ?? null,
        kind: module.kind,
        rank: module.rank ?? peft?.rank ?? null,
        alpha,
        alphaSource,
        isConv: module.isConv,
        dtype: module.dtype,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function adapterConfigs(input: InspectInput, problems: string[]): AdapterConfigs {
  try {
    return parseAdapterMetadata(input.metadata.lora_adapter_metadata, input.fileName);
  } catch (error) {
    problems.push((error as Error).message);
    return {};
  }
}

function lycorisAdapterConfigs(
  input: InspectInput,
  problems: string[],
): Partial<Record<LoraComponent, ComponentConfig>> {
  try {
    return componentConfigs(input.metadata.lora_adapter_metadata, input.fileName);
  } catch (error) {
    problems.push((error as Error).message);
    return {};
  }
}

/** A peft LoHa/LoKr/DoRA module's rank and alpha from its saved config; undefined for kohya keys or no config. */
function lycorisScale(
  module: HeaderModule,
  configs: Partial<Record<LoraComponent, ComponentConfig>>,
  fileName: string,
): { rank: number; alpha: number } | undefined {
  const config = module.component && !module.name.startsWith('lora_') ? configs[module.component] : undefined;
  if (config === undefined) return undefined;
  try {
    return peftModuleScale(config, module.name.slice(module.component!.length + 1), fileName);
  } catch {
    return undefined;
  }
}

function moduleAlpha(
  module: HeaderModule,
  input: InspectInput,
  configs: AdapterConfigs,
): Pick<ModuleReport, 'alpha' | 'alphaSource'> {
  const stored = module.parts.alpha === undefined ? undefined : input.alphas.get(module.parts.alpha);
  if (stored !== undefined) return { alpha: stored, alphaSource: 'tensor' };
  if (module.rank === undefined) return { alpha: null, alphaSource: null };
  const config = module.component && !module.name.startsWith('lora_') ? configs[module.component] : undefined;
  if (config === undefined) return { alpha: module.rank, alphaSource: 'rank' };
  const path = module.name.slice(module.component!.length + 1);
  try {
    return {
      alpha: moduleScale(config, path, module.rank, input.fileName).alpha,
      alphaSource: 'lora_adapter_metadata',
    };
  } catch {
    return { alpha: null, alphaSource: null }; // a bad pattern: adapterConfigs' problems already name the metadata
  }
}

function familyReport(grouped: readonly HeaderModule[], input: InspectInput): InspectReport['family'] {
  const guess = detectFamily(grouped, input.tensors, input.metadata);
  const name: FamilyName | null = guess.family ?? (guess.isSd1OrSd2 ? 'sd1-or-sd2' : null);
  return { name, basis: guess.basis, metadataSays: familyFromMetadata(input.metadata)?.family ?? null };
}

function hashReport(hashes: FileHashes, metadata: Readonly<Record<string, string>>, problems: string[]): HashReport {
  const stored = metadata.sshs_model_hash ?? null;
  const matches = stored === null ? null : stored.toLowerCase() === hashes.addnetSha256;
  if (matches === false) {
    problems.push(
      '`sshs_model_hash` does not match the data: A1111 shows (and pastes infotext by) the stored, wrong hash',
    );
  }
  return {
    ...hashes,
    webuiLoraHash: (stored ?? hashes.addnetSha256).slice(0, 12),
    webuiModelHash: hashes.fileSha256.slice(0, 10),
    storedModelHash: stored,
    storedModelHashMatches: matches,
  };
}

function countDtypes(tensors: ReadonlyMap<string, TensorInfo>): Partial<Record<Dtype, number>> {
  const counts: Partial<Record<Dtype, number>> = {};
  for (const { dtype } of tensors.values()) counts[dtype] = (counts[dtype] ?? 0) + 1;
  return counts;
}

function distinct(values: ReadonlyArray<number | null>): Array<{ value: number | null; count: number }> {
  const counts = new Map<number | null, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => b.count - a.count || (a.value ?? -1) - (b.value ?? -1));
}

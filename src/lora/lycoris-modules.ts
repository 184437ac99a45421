// LoHa, LoKr and DoRA files (peft keys as the engine saves them, or LyCORIS' kohya keys) → one module list with
// each module's factors under their LyCORIS part names and the scale a consumer applies. Pure: takes a parsed file.
// What the names, shapes and scales mean: docs/formats/lycoris.md.
import { alphaValue } from './alpha-tensor.js';
import { kohyaModuleName, type BaseFamily, type LoraComponent } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { detectFamily, familyFromMetadata, groupModules } from './lora-format.js';
import { patternValue } from './peft-adapter-config.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

/** What a LoRA file trains: plain LoRA/LoCon (up·down), LoHa, LoKr, or DoRA (LoRA + a magnitude per row). */
export type NetworkType = 'lora' | 'loha' | 'lokr' | 'dora';

/** The factorization of one module; DoRA modules are `lora` with a `doraScale`. */
export type LycorisKind = 'loha' | 'lokr' | 'lora';

export interface LycorisModule {
  kind: LycorisKind;
  component: LoraComponent;
  /** The kohya/LyCORIS module name to write (`lora_unet_…`, `lora_te_…`). */
  kohyaName: string;
  /** The name checkpoint-targets.ts resolves (a diffusers UNet path stays in its own layout). */
  lookupName: string;
  /** The key stem in the file it was read from. */
  sourceName: string;
  /** LyCORIS part name (`hada_w1_a`, `lokr_w1`, `lokr_w2_b`, `lora_down.weight`, …) → tensor, LyCORIS shapes. */
  factors: Map<string, Tensor>;
  /** DoRA's magnitude as kohya's `dora_scale`: [out, 1(, 1, 1)] per output row, or [1, in(, 1, 1)] per input. */
  doraScale: Tensor | undefined;
  /** The rank that divides alpha, when the module has one (peft's `r`; LoKr with two full factors has none). */
  rank: number | undefined;
  /** The alpha to write: peft's, or the file's `.alpha`. */
  alpha: number | undefined;
  /** The `.alpha` tensor exactly as a kohya file stored it. */
  alphaTensor: Tensor | undefined;
  /** What multiplies the product of the factors (ΔW = scale · f(factors)), as the file's own consumer applies it. */
  scale: number;
}

export interface LycorisModuleSet {
  network: NetworkType;
  /** `peft`: the engine's diffusers/peft file; `kohya`: LyCORIS keys (`lora_unet_…​.hada_w1_a`). */
  keys: 'peft' | 'kohya';
  family: BaseFamily | undefined;
  familyBasis: string;
  modules: LycorisModule[];
}

const LOHA_PARTS = ['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b', 'hada_t1', 'hada_t2'] as const;
const LOKR_PARTS = ['lokr_w1', 'lokr_w1_a', 'lokr_w1_b', 'lokr_w2', 'lokr_w2_a', 'lokr_w2_b', 'lokr_t2'] as const;
// peft suffix → LyCORIS part. Longest first so `.lokr_w1_a` wins over `.lokr_w1`.
const PART_SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ...[...LOHA_PARTS, ...LOKR_PARTS].sort((a, b) => b.length - a.length).map((p) => [`.${p}`, p] as const),
  ['.lora_magnitude_vector', 'dora_scale'],
  ['.lora_A.weight', 'lora_down.weight'],
  ['.lora_B.weight', 'lora_up.weight'],
  ['.lora_down.weight', 'lora_down.weight'],
  ['.lora_up.weight', 'lora_up.weight'],
  ['.dora_scale', 'dora_scale'],
  ['.alpha', 'alpha'],
];
const COMPONENTS: readonly LoraComponent[] = ['text_encoder_2', 'text_encoder', 'unet'];
const KOHYA_PREFIXES: ReadonlyArray<readonly [string, LoraComponent]> = [
  ['lora_unet_', 'unet'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te_', 'text_encoder'],
];

/** The network type a file's tensor names show (from names alone: a header is enough). */
export function networkTypeOf(tensorNames: Iterable<string>): NetworkType {
  let found: NetworkType = 'lora';
  for (const key of tensorNames) {
    if (/\.hada_(w[12]_[ab]|t[12])$/.test(key)) return 'loha';
    if (/\.lokr_(w[12](_[ab])?|t2)$/.test(key)) return 'lokr';
    if (key.endsWith('.lora_magnitude_vector') || key.endsWith('.dora_scale')) found = 'dora';
  }
  return found;
}

/** True for the types this folder reads through lycoris-modules.ts rather than lora-modules.ts. */
export const isLycorisNetwork = (network: NetworkType): boolean => network !== 'lora';

export interface ComponentConfig {
  peftType: string;
  r: number;
  alpha: number;
  rankPattern: Record<string, number>;
  alphaPattern: Record<string, number>;
}

/**
 * Reads every module of a LoHa, LoKr or DoRA file. `family` names peft modules the kohya way (detected when not
 * given). Refuses, naming the file: Tucker/CP factors (`hada_t1`, `lokr_t2`, `lora_mid`), incomplete modules, keys
 * it does not know.
 */
export function readLycorisModules(
  file: SafetensorsContent,
  options: { fileName: string; family?: BaseFamily; layersPerBlock?: number },
): LycorisModuleSet {
  const { fileName } = options;
  const network = networkTypeOf(file.tensors.keys());
  const keys = [...file.tensors.keys()].every((key) => /^lora_(unet|te[12]?)_/.test(key)) ? 'kohya' : 'peft';
  const grouped = groupByModule(file, fileName);
  const detected = familyOf(file, options.family);
  const family = detected.family;
  if (keys === 'peft' && family === undefined) {
    throw new LoraFileError(`cannot tell the base family (${detected.basis})`, {
      code: 'family_unknown',
      culprit: fileName,
      hint: 'pass `--family sd1`, `sd2` or `sdxl`',
    });
  }
  const configs = keys === 'peft' ? componentConfigs(file.metadata.lora_adapter_metadata, fileName) : {};
  const modules = [...grouped].map(([stem, parts]) =>
    keys === 'kohya'
      ? kohyaModule(stem, parts, fileName)
      : peftModule(stem, parts, { family: family!, configs, fileName, layersPerBlock: options.layersPerBlock }),
  );
  return { network, keys, family, familyBasis: detected.basis, modules };
}

function familyOf(file: SafetensorsContent, given: BaseFamily | undefined): { family?: BaseFamily; basis: string } {
  if (given) return { family: given, basis: 'given' };
  const guess = detectFamily(groupModules(file.tensors).modules, file.tensors, file.metadata);
  if (guess.family) return guess;
  const claimed = familyFromMetadata(file.metadata);
  if (claimed) return { family: claimed.family, basis: `metadata \`${claimed.key}\`` };
  // SD 1.x and 2.x name every key alike, so either reads as sd1.
  return guess.isSd1OrSd2 ? { family: 'sd1', basis: `${guess.basis} (SD 1.x and 2.x keys are named alike)` } : guess;
}

function groupByModule(file: SafetensorsContent, fileName: string): Map<string, Map<string, Tensor>> {
  const groups = new Map<string, Map<string, Tensor>>();
  for (const [key, tensor] of file.tensors) {
    const match = PART_SUFFIXES.find(([suffix]) => key.endsWith(suffix) && key.length > suffix.length);
    if (!match) {
      const isTucker = key.endsWith('.lora_mid.weight');
      throw new LoraFileError(
        isTucker
          ? `key \`${key}\` is a Tucker (CP) factor, which lora-scripts does not read`
          : `key \`${key}\` is not a LoHa, LoKr or DoRA part`,
        {
          code: 'unsupported_format',
          culprit: fileName,
          hint: '`lora-scripts inspect` shows what the file holds',
        },
      );
    }
    const stem = key.slice(0, key.length - match[0].length);
    const parts = groups.get(stem) ?? new Map<string, Tensor>();
    parts.set(match[1], tensor);
    groups.set(stem, parts);
  }
  return groups;
}

interface PeftContext {
  family: BaseFamily;
  configs: Partial<Record<LoraComponent, ComponentConfig>>;
  fileName: string;
  layersPerBlock: number | undefined;
}

function peftModule(stem: string, parts: Map<string, Tensor>, context: PeftContext): LycorisModule {
  const { fileName } = context;
  const component = COMPONENTS.find((name) => stem.startsWith(`${name}.`));
  if (!component) {
    throw new LoraFileError(`key \`${stem}\` is not under \`unet.\`, \`text_encoder.\` or \`text_encoder_2.\``, {
      code: 'unknown_key',
      culprit: fileName,
    });
  }
  const modulePath = stem.slice(component.length + 1);
  let kohyaName: string;
  try {
    kohyaName = kohyaModuleName(
      { key: stem, component, modulePath, part: 'down' },
      context.family,
      context.layersPerBlock,
    );
  } catch (error) {
    if (!(error instanceof LoraFileError)) throw error;
    throw new LoraFileError(`key \`${stem}\`: ${error.message}`, {
      code: error.code,
      culprit: fileName,
      hint: error.hint,
    });
  }
  // A diffusers UNet path resolves against any checkpoint's own layout; kohyaName assumes SDXL's real one.
  const lookupName = component === 'unet' ? `lora_unet_${modulePath.replaceAll('.', '_')}` : kohyaName;
  const kind = kindOf(parts, stem, fileName);
  const doraScale = parts.get('dora_scale');
  const factors = new Map([...parts].filter(([part]) => part !== 'dora_scale' && part !== 'alpha'));
  checkFactors(kind, factors, stem, fileName);
  const config = context.configs[component];
  const scaled = config ? peftModuleScale(config, modulePath, fileName) : undefined;
  const rank = scaled ? scaled.rank : factorRank(kind, factors);
  const alpha = scaled ? scaled.alpha : rank;
  // peft always scales by alpha / r (its LoKr too, even with two full factors); without a config diffusers loads
  // alpha = r, so scale 1.
  const scale = rank !== undefined && alpha !== undefined ? alpha / rank : 1;
  return {
    kind,
    component,
    kohyaName,
    lookupName,
    sourceName: stem,
    factors,
    doraScale: doraScale && kohyaDoraScale(doraScale, factors),
    rank,
    alpha,
    alphaTensor: undefined,
    scale,
  };
}

function kohyaModule(stem: string, parts: Map<string, Tensor>, fileName: string): LycorisModule {
  const component = KOHYA_PREFIXES.find(([prefix]) => stem.startsWith(prefix))![1];
  const kind = kindOf(parts, stem, fileName);
  const alphaTensor = parts.get('alpha');
  const factors = new Map([...parts].filter(([part]) => part !== 'dora_scale' && part !== 'alpha'));
  checkFactors(kind, factors, stem, fileName);
  const alpha = alphaTensor ? alphaValue(alphaTensor) : undefined;
  const rank = factorRank(kind, factors);
  // ComfyUI and A1111: alpha / rank when both exist, else 1 (LoKr with two full factors has no rank).
  const scale = alpha !== undefined && rank !== undefined ? alpha / rank : 1;
  return {
    kind,
    component,
    kohyaName: stem,
    lookupName: stem,
    sourceName: stem,
    factors,
    doraScale: parts.get('dora_scale'),
    rank,
    alpha,
    alphaTensor,
    scale,
  };
}

function kindOf(parts: Map<string, Tensor>, stem: string, fileName: string): LycorisKind {
  const names = [...parts.keys()];
  const kinds = new Set(
    names.map((p) =>
      p.startsWith('hada_') ? 'loha' : p.startsWith('lokr_') ? 'lokr' : p.startsWith('lora_') ? 'lora' : '',
    ),
  );
  kinds.delete('');
  if (kinds.size !== 1) {
    throw new LoraFileError(
      `module \`${stem}\` has ${kinds.size === 0 ? 'no' : 'mixed'} factors (${names.join(', ')})`,
      {
        code: 'incomplete_module',
        culprit: fileName,
      },
    );
  }
  return [...kinds][0] as LycorisKind;
}

/** The parts each kind needs; Tucker/CP cores are refused (the engine never trains them). */
function checkFactors(kind: LycorisKind, factors: Map<string, Tensor>, stem: string, fileName: string): void {
  const has = (part: string) => factors.has(part);
  if (has('hada_t1') || has('hada_t2') || has('lokr_t2')) {
    throw new LoraFileError(
      `module \`${stem}\` is a Tucker (CP) ${kind === 'loha' ? 'LoHa' : 'LoKr'}, which lora-scripts does not read`,
      {
        code: 'unsupported_format',
        culprit: fileName,
        hint: "LyCORIS' own tools merge Tucker modules; `lora-scripts inspect` shows what the file holds",
      },
    );
  }
  const missing =
    kind === 'loha'
      ? LOHA_PARTS.slice(0, 4).filter((p) => !has(p))
      : kind === 'lokr'
        ? [
            ...(has('lokr_w1') || (has('lokr_w1_a') && has('lokr_w1_b')) ? [] : ['lokr_w1']),
            ...(has('lokr_w2') || (has('lokr_w2_a') && has('lokr_w2_b')) ? [] : ['lokr_w2']),
          ]
        : ['lora_down.weight', 'lora_up.weight'].filter((p) => !has(p));
  if (missing.length > 0) {
    throw new LoraFileError(`module \`${stem}\` has no ${missing.join(', ')}`, {
      code: 'incomplete_module',
      culprit: fileName,
    });
  }
  for (const [part, tensor] of factors) {
    if (!['F32', 'F16', 'BF16'].includes(tensor.dtype)) {
      throw new LoraFileError(`\`${stem}.${part}\` is ${tensor.dtype}; weights must be F32, F16 or BF16`, {
        code: 'unsupported_dtype',
        culprit: fileName,
      });
    }
  }
}

/** The inner rank the factors show: LoHa's w1_b rows, a factored LoKr part's rows, LoRA's down rows. */
function factorRank(kind: LycorisKind, factors: Map<string, Tensor>): number | undefined {
  if (kind === 'loha') return factors.get('hada_w1_b')?.shape[0];
  if (kind === 'lora') return factors.get('lora_down.weight')?.shape[0];
  return (factors.get('lokr_w1_b') ?? factors.get('lokr_w2_b'))?.shape[0];
}

/** peft's magnitude ([out], or [1, out, 1, 1] for convs) as LyCORIS' per-output `dora_scale`: same bytes. */
function kohyaDoraScale(magnitude: Tensor, factors: Map<string, Tensor>): Tensor {
  const out = magnitude.shape.reduce((n, d) => n * d, 1);
  const isConv = (factors.get('lora_down.weight')?.shape.length ?? 2) === 4;
  return { dtype: magnitude.dtype, shape: isConv ? [out, 1, 1, 1] : [out, 1], data: magnitude.data };
}

/** The rank and alpha peft gave one module of a LoHa/LoKr/DoRA file (its patterns first), from its saved config. */
export function peftModuleScale(
  config: ComponentConfig,
  modulePath: string,
  fileName: string,
): { rank: number; alpha: number } {
  return {
    rank: patternValue(config.rankPattern, modulePath, fileName) ?? config.r,
    alpha: patternValue(config.alphaPattern, modulePath, fileName) ?? config.alpha,
  };
}

/** `lora_adapter_metadata` → per component: peft type, r, alpha (LoHa/LoKr `alpha`, LoRA `lora_alpha`), patterns. */
export function componentConfigs(
  json: string | undefined,
  fileName: string,
): Partial<Record<LoraComponent, ComponentConfig>> {
  if (json === undefined) return {};
  let flat: Record<string, unknown>;
  try {
    flat = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new LoraFileError('`lora_adapter_metadata` is not JSON', {
      code: 'invalid_adapter_metadata',
      culprit: fileName,
    });
  }
  const configs: Partial<Record<LoraComponent, ComponentConfig>> = {};
  for (const component of COMPONENTS) {
    const field = (name: string) => flat[`${component}.${name}`];
    const r = field('r');
    const alpha = field('alpha') ?? field('lora_alpha');
    if (typeof r !== 'number' || typeof alpha !== 'number') continue;
    const patterns = (value: unknown) =>
      value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, number>) : {};
    configs[component] = {
      peftType: String(field('peft_type') ?? 'LORA'),
      r,
      alpha,
      rankPattern: patterns(field('rank_pattern')),
      alphaPattern: patterns(field('alpha_pattern')),
    };
  }
  return configs;
}

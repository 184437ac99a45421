// Which kind of LoRA file this is, from tensor names and shapes alone: key format (kohya, diffusers/PEFT, LyCORIS
// variants), the modules it holds, and the base family they fit. Pure; needs only a header.
import type { BaseFamily, LoraComponent } from './kohya-keys.js';
import type { Dtype } from './safetensors.js';

/** What a header says about a tensor; both TensorInfo and Tensor fit. */
export interface TensorShape {
  dtype: Dtype;
  shape: readonly number[];
}

/** How a module's weight change is stored: plain LoRA (up·down) or one of LyCORIS' other factorizations. */
export type ModuleKind = 'lora' | 'locon-tucker' | 'loha' | 'lokr' | 'ia3' | 'glora' | 'full' | 'norm';

export interface HeaderModule {
  /** The module's key stem as in the file: `lora_unet_…` or `unet.down_blocks.…`. */
  name: string;
  component: LoraComponent | undefined;
  kind: ModuleKind;
  /** Part (`down`, `up`, `alpha`, `hada_w1_a`, …) → full key. */
  parts: Record<string, string>;
  /** The factorization's inner rank, when it has one (LoRA, LoHa, factored LoKr). */
  rank: number | undefined;
  /** A k×k convolution (k > 1): a LoCon layer. */
  isConv: boolean;
  hasDora: boolean;
  dtype: Dtype;
}

export type FormatName = 'kohya' | 'lycoris' | 'diffusers' | 'comfyui' | 'peft-adapter' | 'checkpoint' | 'unknown';

export interface LoraFormat {
  name: FormatName;
  /** `LoRA`, `LoCon`, `LoHa`, `LoKr`, `peft`, `lora.down`, `attn processors`, …; several joined with `+`. */
  variant: string;
  /** Whether `convert` can turn it into the other key format. */
  isConvertible: boolean;
}

// Longest first: `.lora_A.weight` must win over `.weight` (IA³), `_lora.down.weight` over `.lora.down.weight`.
const PART_SUFFIXES: ReadonlyArray<readonly [suffix: string, part: string]> = [
  ['.lora_linear_layer.down.weight', 'down'],
  ['.lora_linear_layer.up.weight', 'up'],
  ['.lora_magnitude_vector', 'dora'],
  ['.lora_down.weight', 'down'],
  ['.lora_mid.weight', 'mid'],
  ['.lora_up.weight', 'up'],
  ['.lora.down.weight', 'down'],
  ['.lora.up.weight', 'up'],
  ['_lora.down.weight', 'down'],
  ['_lora.up.weight', 'up'],
  ['.lora_A.weight', 'down'],
  ['.lora_B.weight', 'up'],
  ['.lora_B.bias', 'up_bias'],
  ['.dora_scale', 'dora'],
  ...['hada_w1_a', 'hada_w1_b', 'hada_w2_a', 'hada_w2_b', 'hada_t1', 'hada_t2'].map((p) => [`.${p}`, p] as const),
  ...['lokr_w1_a', 'lokr_w1_b', 'lokr_w2_a', 'lokr_w2_b', 'lokr_w1', 'lokr_w2', 'lokr_t2'].map(
    (p) => [`.${p}`, p] as const,
  ),
  ...['a1', 'a2', 'b1', 'b2'].map((p) => [`.${p}.weight`, p] as const),
  ['.on_input', 'on_input'],
  ['.diff_b', 'diff_b'],
  ['.diff', 'diff'],
  ['.w_norm', 'w_norm'],
  ['.b_norm', 'b_norm'],
  ['.alpha', 'alpha'],
  ['.weight', 'weight'],
];

const COMPONENT_PREFIXES: ReadonlyArray<readonly [string, LoraComponent]> = [
  ['lora_unet_', 'unet'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te_', 'text_encoder'],
  ['unet.', 'unet'],
  ['text_encoder_2.', 'text_encoder_2'],
  ['text_encoder.', 'text_encoder'],
  ['diffusion_model.', 'unet'],
  ['text_encoders.clip_g.', 'text_encoder_2'],
  ['text_encoders.', 'text_encoder'],
  ['lycoris_', 'unet'],
];

const CHECKPOINT_PREFIXES = [
  'model.diffusion_model.',
  'first_stage_model.',
  'cond_stage_model.',
  'conditioner.embedders.',
];

/** Groups tensors into modules by their key stem; keys that fit no known part are returned as `stray`. */
export function groupModules(tensors: ReadonlyMap<string, TensorShape>): { modules: HeaderModule[]; stray: string[] } {
  const byName = new Map<string, Record<string, string>>();
  const stray: string[] = [];
  for (const key of tensors.keys()) {
    const match = PART_SUFFIXES.find(([suffix]) => key.endsWith(suffix) && key.length > suffix.length);
    if (!match) {
      stray.push(key);
      continue;
    }
    const name = key.slice(0, key.length - match[0].length);
    byName.set(name, { ...byName.get(name), [match[1]]: key });
  }
  const modules = [...byName].map(([name, parts]) => describeModule(name, parts, tensors));
  return { modules, stray };
}

function describeModule(
  name: string,
  parts: Record<string, string>,
  tensors: ReadonlyMap<string, TensorShape>,
): HeaderModule {
  const shape = (part: string) => (parts[part] === undefined ? undefined : tensors.get(parts[part])?.shape);
  const kind = moduleKind(parts);
  const rank =
    kind === 'lora' || kind === 'locon-tucker'
      ? shape('down')?.[0]
      : kind === 'loha'
        ? shape('hada_w1_b')?.[0]
        : kind === 'lokr'
          ? (shape('lokr_w1_b') ?? shape('lokr_w2_b'))?.[0]
          : undefined;
  const weight = shape('down') ?? shape('hada_w1_b') ?? shape('lokr_w2') ?? shape('lokr_w2_b') ?? shape('diff');
  const isConv =
    (weight?.length === 4 && (weight[2] ?? 1) * (weight[3] ?? 1) > 1) ||
    parts.hada_t1 !== undefined ||
    parts.lokr_t2 !== undefined ||
    parts.mid !== undefined;
  const first = tensors.get(
    Object.values(parts).find((key) => !key.endsWith('.alpha')) ?? Object.values(parts)[0] ?? '',
  );
  return {
    name,
    component: COMPONENT_PREFIXES.find(([prefix]) => name.startsWith(prefix))?.[1],
    kind,
    parts,
    rank,
    isConv,
    hasDora: parts.dora !== undefined,
    dtype: first?.dtype ?? 'F32',
  };
}

function moduleKind(parts: Record<string, string>): ModuleKind {
  if (parts.hada_w1_a !== undefined) return 'loha';
  if (Object.keys(parts).some((part) => part.startsWith('lokr_'))) return 'lokr';
  if (parts.diff !== undefined) return 'full';
  if (parts.on_input !== undefined) return 'ia3';
  if (parts.a1 !== undefined) return 'glora';
  if (parts.w_norm !== undefined) return 'norm';
  if (parts.mid !== undefined) return 'locon-tucker';
  return 'lora';
}

const LYCORIS_VARIANTS: Readonly<Record<Exclude<ModuleKind, 'lora'>, string>> = {
  'locon-tucker': 'LoCon (Tucker)',
  loha: 'LoHa',
  lokr: 'LoKr',
  ia3: '(IA)³',
  glora: 'GLoRA',
  full: 'full (diff)',
  norm: 'norms',
};

/** Names the key format; `networkModule` is `ss_network_module` (`lycoris.kohya` marks LyCORIS' own LoCon). */
export function detectFormat(
  tensorNames: readonly string[],
  modules: readonly HeaderModule[],
  networkModule?: string,
): LoraFormat {
  if (tensorNames.some((key) => CHECKPOINT_PREFIXES.some((prefix) => key.startsWith(prefix)))) {
    return { name: 'checkpoint', variant: 'single-file model, not a LoRA', isConvertible: false };
  }
  if (tensorNames.length > 0 && tensorNames.every((key) => key.startsWith('base_model.model.'))) {
    return { name: 'peft-adapter', variant: 'PEFT save_pretrained', isConvertible: false };
  }
  // ComfyUI's own names (docs/formats/comfyui-lora-loading.md §2): the LDM UNet path and ComfyUI's text-encoder keys.
  if (tensorNames.length > 0 && tensorNames.every((key) => /^(diffusion_model|text_encoders)\./.test(key))) {
    const isPlain = modules.every((m) => m.kind === 'lora' && !m.hasDora);
    return {
      name: 'comfyui',
      variant: variantOf(modules, modules.some((m) => m.kind === 'lora' && m.isConv) ? 'LoCon' : 'LoRA'),
      isConvertible: isPlain,
    };
  }
  // SimpleTuner's LyCORIS files name modules `lycoris_<diffusers path>`.
  if (tensorNames.length > 0 && tensorNames.every((key) => key.startsWith('lycoris_'))) {
    return { name: 'lycoris', variant: `${variantOf(modules, 'LoRA')} (SimpleTuner names)`, isConvertible: false };
  }
  const isKohya = tensorNames.length > 0 && tensorNames.every((key) => /^lora_(unet|te[12]?)_/.test(key));
  const isDiffusers =
    tensorNames.length > 0 && tensorNames.every((key) => /^(unet|text_encoder|text_encoder_2)\./.test(key));
  const other = [
    ...new Set(
      modules.filter((m) => m.kind !== 'lora').map((m) => LYCORIS_VARIANTS[m.kind as Exclude<ModuleKind, 'lora'>]),
    ),
  ];
  const hasDora = modules.some((m) => m.hasDora);
  if (isKohya) {
    const isLocon = modules.some((m) => m.kind === 'lora' && m.isConv);
    const variants = [
      ...(other.length === 0 || modules.some((m) => m.kind === 'lora') ? [isLocon ? 'LoCon' : 'LoRA'] : []),
      ...other,
      ...(hasDora ? ['DoRA'] : []),
    ];
    const isLycoris = other.length > 0 || hasDora || networkModule?.startsWith('lycoris') === true;
    return {
      name: isLycoris ? 'lycoris' : 'kohya',
      variant: variants.join('+'),
      isConvertible: other.length === 0 && !hasDora,
    };
  }
  if (isDiffusers) {
    const spelling = tensorNames.some((key) => key.includes('_lora.down.') || key.includes('_lora.up.'))
      ? 'attn processors'
      : tensorNames.some((key) => /\.lora(_linear_layer)?\.(down|up)\.weight$/.test(key))
        ? 'lora.down'
        : 'peft';
    const hasBias = modules.some((m) => m.parts.up_bias !== undefined);
    const variants = [spelling, ...other, ...(hasDora ? ['DoRA'] : []), ...(hasBias ? ['lora_bias'] : [])];
    return {
      name: 'diffusers',
      variant: variants.join('+'),
      isConvertible: other.length === 0 && !hasDora && !hasBias,
    };
  }
  return { name: 'unknown', variant: 'no known LoRA key layout', isConvertible: false };
}

/** The factorizations present, e.g. `LoRA`, `LoHa+LoKr`. */
function variantOf(modules: readonly HeaderModule[], plain: string): string {
  const kinds = [...new Set(modules.map((m) => (m.kind === 'lora' ? plain : LYCORIS_VARIANTS[m.kind])))];
  return kinds.join('+') || plain;
}

export interface FamilyGuess {
  family: BaseFamily | undefined;
  /** Why: the evidence that decided, in words. */
  basis: string;
  /**
   * Set when the layout says SD 1.x or 2.x but nothing tells which (a tiny model's widths). Both name their LoRA
   * keys alike, so conversion can go on as sd1.
   */
  isSd1OrSd2?: boolean;
}

const WIDTH_FAMILIES: Readonly<Record<number, BaseFamily>> = { 768: 'sd1', 1024: 'sd2' };

/**
 * The base family the modules fit, from structure first (SDXL's second text encoder and LDM names, transformer
 * depth, text and cross-attention widths, 1×1-conv vs linear proj_in), then from `ss_base_model_version` /
 * `modelspec.architecture`. Tiny test models have no telling widths; their layout usually still decides.
 */
export function detectFamily(
  modules: readonly HeaderModule[],
  tensors: ReadonlyMap<string, TensorShape>,
  metadata: Readonly<Record<string, string>>,
): FamilyGuess {
  const unet = modules.filter((m) => m.component === 'unet').map((m) => ({ module: m, rest: flatUnetName(m.name) }));
  const textEncoder = modules
    .filter((m) => m.component === 'text_encoder')
    .map((m) => ({ module: m, rest: m.name.replaceAll('.', '_') }));
  const inWidth = (m: HeaderModule) => tensors.get(m.parts.down ?? '')?.shape[1];
  if (modules.some((m) => m.component === 'text_encoder_2'))
    return { family: 'sdxl', basis: 'second text encoder (`lora_te2_` / `text_encoder_2.`)' };
  // The UNet's cross-attention width is the text encoder's output: 768 SD 1.x, 1024 SD 2.x, 768 + 1280 SDXL.
  const crossWidth = unet
    .map(({ module, rest }) => (/attn2_to_[kv]$/.test(rest) ? inWidth(module) : undefined))
    .find((w) => w !== undefined);
  const byCrossWidth = crossWidth === undefined ? undefined : { ...WIDTH_FAMILIES, 2048: 'sdxl' as const }[crossWidth];
  if (byCrossWidth) return { family: byCrossWidth, basis: `cross-attention width ${crossWidth}` };
  const sdxl = sdxlEvidence(modules, unet, inWidth);
  if (sdxl) return { family: 'sdxl', basis: sdxl };
  const textWidth = textEncoder
    .map(({ module, rest }) => (/(q_proj|k_proj|v_proj|fc1)$/.test(rest) ? inWidth(module) : undefined))
    .find((w) => w !== undefined);
  if (textWidth !== undefined && WIDTH_FAMILIES[textWidth])
    return { family: WIDTH_FAMILIES[textWidth], basis: `text encoder width ${textWidth}` };
  const layers = textEncoder.map(({ rest }) => Number(/layers_(\d+)_/.exec(rest)?.[1] ?? -1));
  if (Math.max(-1, ...layers) === 22) return { family: 'sd2', basis: 'text encoder with 23 layers (OpenCLIP-H)' };
  const projIn = unet.find(({ rest }) => rest.endsWith('proj_in'));
  const projInRank = projIn ? tensors.get(projIn.module.parts.down ?? '')?.shape.length : undefined;
  if (projInRank === 4) return { family: 'sd1', basis: '1×1-conv proj_in (SD 1.x UNet)' };
  if (projInRank === 2 && unet.some(({ rest }) => /^(down_blocks_0_attentions|up_blocks_3_)/.test(rest))) {
    return { family: 'sd2', basis: 'linear proj_in in the SD 1.x/2.x block layout' };
  }
  const claimed = familyFromMetadata(metadata);
  if (claimed) return { family: claimed.family, basis: `metadata \`${claimed.key}\`` };
  if (
    unet.some(({ rest }) =>
      /^(down_blocks_0_attentions|up_blocks_3_|input_blocks_[12]_1_|output_blocks_(9|10|11)_1_)/.test(rest),
    )
  ) {
    return {
      family: undefined,
      isSd1OrSd2: true,
      basis: 'SD 1.x/2.x block layout, with no width or metadata telling which',
    };
  }
  return { family: undefined, basis: 'no telling layer names, widths or metadata' };
}

function sdxlEvidence(
  modules: readonly HeaderModule[],
  unet: Array<{ module: HeaderModule; rest: string }>,
  inWidth: (m: HeaderModule) => number | undefined,
): string | undefined {
  // SD 1.x/2.x have attentions at input blocks 1–2 and output blocks 9–11; SDXL has neither.
  const isSd1Ldm = unet.some(({ rest }) => /^(input_blocks_[12]_1|output_blocks_(9|10|11)_1)_/.test(rest));
  if (!isSd1Ldm && unet.some(({ rest }) => /^(input_blocks|middle_block|output_blocks)_/.test(rest)))
    return "sd-scripts' SDXL UNet names (`input_blocks_…`)";
  if (unet.some(({ rest }) => /transformer_blocks_[1-9]/.test(rest)))
    return 'several transformer blocks per attention (SDXL UNet)';
  if (unet.some(({ rest }) => /^(add_embedding|label_emb)_/.test(rest))) return 'SDXL added-condition embedding';
  if (modules.some((m) => m.component === 'text_encoder' && /(q_proj|fc1)$/.test(m.name) && inWidth(m) === 1280))
    return 'text encoder width 1280';
  return undefined;
}

/** The UNet module name without its prefix, underscored: `down_blocks_0_attentions_0_proj_in`. */
function flatUnetName(name: string): string {
  return name.replace(/^(lora_unet_|unet\.|diffusion_model\.)/, '').replaceAll('.', '_');
}

export function familyFromMetadata(
  metadata: Readonly<Record<string, string>>,
): { family: BaseFamily; key: string } | undefined {
  const version = metadata.ss_base_model_version;
  if (version?.startsWith('sdxl')) return { family: 'sdxl', key: 'ss_base_model_version' };
  if (version?.startsWith('sd_v2')) return { family: 'sd2', key: 'ss_base_model_version' };
  if (version?.startsWith('sd_v1')) return { family: 'sd1', key: 'ss_base_model_version' };
  const architecture = metadata['modelspec.architecture'];
  if (architecture?.startsWith('stable-diffusion-xl')) return { family: 'sdxl', key: 'modelspec.architecture' };
  if (architecture?.startsWith('stable-diffusion-v2')) return { family: 'sd2', key: 'modelspec.architecture' };
  if (architecture?.startsWith('stable-diffusion-v1')) return { family: 'sd1', key: 'modelspec.architecture' };
  if (metadata.ss_v2 === 'True') return { family: 'sd2', key: 'ss_v2' };
  return undefined;
}

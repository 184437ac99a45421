// Flux.1 LoRA names: diffusers' (`transformer.transformer_blocks.0.attn.to_q.lora_A.weight`) ⇄ kohya's and
// ComfyUI's (`lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight`), and the tensors of one → the other.
// Pure. docs/formats/flux.md §3 has the layout and §4 the fusing math.
//
// kohya names are Black Forest Labs' module names with `.` → `_`. BFL fuses what diffusers keeps apart: a double
// block's q, k and v into one `qkv` Linear per stream, and a single block's q, k, v and MLP input into `linear1`.
// A split LoRA becomes one fused LoRA whose down stacks the parts' downs and whose up is block-diagonal:
//   up·down = [B_q·A_q; B_k·A_k; B_v·A_v] — each part's delta lands on its own rows, as the split LoRA had it.
// fluxKohyaToPeft goes back: rows split by part, rank columns too where the up is block-diagonal.
import { alphaTensor, type AlphaDtype } from './alpha-tensor.js';
import { decodeFloats, encodeFloats, isFloatDtype, type FloatDtype } from './float-codec.js';
import { LoraFileError } from './lora-file-error.js';
import { moduleScale, parseAdapterMetadata, type ComponentLoraConfig } from './peft-adapter-config.js';
import type { KohyaModule, KohyaTensors } from './peft-to-kohya.js';
import type { MergeTarget } from './checkpoint-targets.js';
import type { SafetensorsContent, Tensor, TensorInfo } from './safetensors.js';

/** Where a diffusers module's LoRA goes in kohya's file. */
export interface FluxKohyaTarget {
  /** kohya module name, e.g. `lora_unet_double_blocks_0_img_attn_qkv`. */
  name: string;
  /** Its place among the fused module's parts (q, k, v[, mlp]); 0 of 1 when nothing is fused. */
  part: number;
  parts: number;
  /** BFL's final AdaLN gives (shift, scale), diffusers' (scale, shift): the up's output halves swap. */
  swapHalves: boolean;
}

type Slot = readonly [bfl: string, part: number, parts: number];

// Inside `transformer_blocks.N.` → inside `double_blocks.N.`
const DOUBLE_BLOCK: Readonly<Record<string, Slot>> = {
  'attn.to_q': ['img_attn.qkv', 0, 3],
  'attn.to_k': ['img_attn.qkv', 1, 3],
  'attn.to_v': ['img_attn.qkv', 2, 3],
  'attn.to_out.0': ['img_attn.proj', 0, 1],
  'attn.add_q_proj': ['txt_attn.qkv', 0, 3],
  'attn.add_k_proj': ['txt_attn.qkv', 1, 3],
  'attn.add_v_proj': ['txt_attn.qkv', 2, 3],
  'attn.to_add_out': ['txt_attn.proj', 0, 1],
  'ff.net.0.proj': ['img_mlp.0', 0, 1],
  'ff.net.2': ['img_mlp.2', 0, 1],
  'ff_context.net.0.proj': ['txt_mlp.0', 0, 1],
  'ff_context.net.2': ['txt_mlp.2', 0, 1],
  'norm1.linear': ['img_mod.lin', 0, 1],
  'norm1_context.linear': ['txt_mod.lin', 0, 1],
};

// Inside `single_transformer_blocks.N.` → inside `single_blocks.N.`
const SINGLE_BLOCK: Readonly<Record<string, Slot>> = {
  'attn.to_q': ['linear1', 0, 4],
  'attn.to_k': ['linear1', 1, 4],
  'attn.to_v': ['linear1', 2, 4],
  proj_mlp: ['linear1', 3, 4],
  proj_out: ['linear2', 0, 1],
  'norm.linear': ['modulation.lin', 0, 1],
};

const TOP_LEVEL: Readonly<Record<string, string>> = {
  x_embedder: 'img_in',
  context_embedder: 'txt_in',
  'time_text_embed.timestep_embedder.linear_1': 'time_in.in_layer',
  'time_text_embed.timestep_embedder.linear_2': 'time_in.out_layer',
  'time_text_embed.text_embedder.linear_1': 'vector_in.in_layer',
  'time_text_embed.text_embedder.linear_2': 'vector_in.out_layer',
  'time_text_embed.guidance_embedder.linear_1': 'guidance_in.in_layer',
  'time_text_embed.guidance_embedder.linear_2': 'guidance_in.out_layer',
  proj_out: 'final_layer.linear',
  'norm_out.linear': 'final_layer.adaLN_modulation.1',
};

/** Flux.1's MLP is 4× the width (mlp_ratio 4): a single block's linear1 outputs q, k, v (width each) then 4·width. */
const MLP_RATIO = 4;

const kohyaName = (bflPath: string) => `lora_unet_${bflPath.replaceAll('.', '_')}`;

/** The kohya target of a diffusers Flux transformer module (its path inside the transformer), or undefined. */
export function fluxKohyaTarget(modulePath: string): FluxKohyaTarget | undefined {
  const block = /^(transformer_blocks|single_transformer_blocks)\.(\d+)\.(.+)$/.exec(modulePath);
  if (block) {
    const [, kind, index, inner] = block as unknown as [string, string, string, string];
    const isDouble = kind === 'transformer_blocks';
    const slot = (isDouble ? DOUBLE_BLOCK : SINGLE_BLOCK)[inner];
    if (!slot) return undefined;
    const [bfl, part, parts] = slot;
    const name = kohyaName(`${isDouble ? 'double_blocks' : 'single_blocks'}.${index}.${bfl}`);
    return { name, part, parts, swapHalves: false };
  }
  const bfl = TOP_LEVEL[modulePath];
  if (!bfl) return undefined;
  return { name: kohyaName(bfl), part: 0, parts: 1, swapHalves: modulePath === 'norm_out.linear' };
}

/** The diffusers module paths a kohya Flux module stands for, in part order (three or four for a fused one). */
export function fluxDiffusersModules(kohyaModule: string): string[] {
  const block = /^lora_unet_(double|single)_blocks_(\d+)_(.+)$/.exec(kohyaModule);
  if (block) {
    const [, kind, index, inner] = block as unknown as [string, string, string, string];
    const table = kind === 'double' ? DOUBLE_BLOCK : SINGLE_BLOCK;
    const prefix = kind === 'double' ? 'transformer_blocks' : 'single_transformer_blocks';
    return Object.entries(table)
      .filter(([, [bfl]]) => bfl.replaceAll('.', '_') === inner)
      .sort(([, a], [, b]) => a[1] - b[1])
      .map(([path]) => `${prefix}.${index}.${path}`);
  }
  return Object.entries(TOP_LEVEL)
    .filter(([, bfl]) => kohyaName(bfl) === kohyaModule)
    .map(([path]) => path);
}

export type FluxLoraLayout = 'diffusers' | 'kohya';

/** Whether a LoRA file's keys are a Flux transformer's, and in which naming; undefined when they are not Flux. */
export function detectFluxLora(keys: Iterable<string>): FluxLoraLayout | undefined {
  for (const key of keys) {
    if (/^transformer\.(single_)?transformer_blocks\.\d+\./.test(key)) return 'diffusers';
    if (/^lora_unet_(double|single)_blocks_\d+_/.test(key)) return 'kohya';
  }
  return undefined;
}

export interface FluxToKohyaOptions {
  /** Names the file in errors. */
  fileName: string;
  /** Default F32, as for SD (to-kohya.ts). */
  alphaDtype?: AlphaDtype;
}

interface PartTensors {
  modulePath: string;
  down?: Tensor;
  up?: Tensor;
}

const LORA_KEY = /^transformer\.(.+)\.lora_([AB])\.weight$/;

/**
 * A diffusers Flux LoRA file's tensors → kohya's: three per kohya module (down, up, alpha). Unfused modules keep their
 * bytes; fused ones are built as the header comment says, with alpha chosen so kohya's alpha/rank equals the parts'
 * PEFT scale (docs/formats/flux.md §4).
 */
export function fluxPeftToKohya(file: SafetensorsContent, options: FluxToKohyaOptions): KohyaTensors {
  const { fileName } = options;
  const config = transformerConfig(file.metadata.lora_adapter_metadata, fileName);
  const groups = new Map<string, { target: FluxKohyaTarget; parts: Map<number, PartTensors> }>();
  for (const [key, tensor] of file.tensors) {
    const match = LORA_KEY.exec(key);
    const target = match ? fluxKohyaTarget(match[1]!) : undefined;
    if (!match || !target) {
      throw new LoraFileError(`key \`${key}\` is not a LoRA weight of a Flux transformer module`, {
        code: 'not_flux_lora_key',
        culprit: fileName,
        hint: 'expected `transformer.<diffusers module>.lora_A.weight` / `.lora_B.weight`, as FluxPipeline saves',
      });
    }
    checkDtype(key, tensor, fileName);
    const group = groups.get(target.name) ?? { target, parts: new Map() };
    const part = group.parts.get(target.part) ?? { modulePath: match[1]! };
    part[match[2] === 'A' ? 'down' : 'up'] = tensor;
    group.parts.set(target.part, part);
    groups.set(target.name, group);
  }
  if (groups.size === 0)
    throw new LoraFileError('holds no LoRA tensors', { code: 'no_lora_tensors', culprit: fileName });
  const tensors = new Map<string, Tensor>();
  const modules: KohyaModule[] = [];
  for (const [name, { target, parts }] of groups) {
    const scaled = [...parts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([part, tensorsOf]) => completePart(part, tensorsOf, config, fileName));
    const module = target.parts === 1 ? single(scaled[0]!, target.swapHalves) : fused(scaled, target.parts);
    tensors.set(`${name}.lora_down.weight`, module.down);
    tensors.set(`${name}.lora_up.weight`, module.up);
    tensors.set(`${name}.alpha`, alphaTensor(module.alpha, options.alphaDtype ?? 'F32', fileName));
    modules.push({ name, component: 'unet', rank: module.down.shape[0]!, alpha: module.alpha });
  }
  return { tensors, modules, alphaSources: { unet: config ? 'lora_adapter_metadata' : 'rank' } };
}

/** diffusers writes the transformer's LoraConfig as `transformer.r`, …; the shared parser reads `unet.` keys. */
export function transformerConfig(json: string | undefined, fileName: string): ComponentLoraConfig | undefined {
  if (json === undefined) return undefined;
  let flat: unknown;
  try {
    flat = JSON.parse(json);
  } catch {
    return parseAdapterMetadata(json, fileName).unet; // throws the shared "not JSON" error
  }
  if (typeof flat !== 'object' || flat === null) return parseAdapterMetadata(json, fileName).unet;
  const renamed = Object.fromEntries(
    Object.entries(flat).map(([key, value]) => [key.replace(/^transformer\./, 'unet.'), value]),
  );
  return parseAdapterMetadata(JSON.stringify(renamed), fileName).unet;
}

interface ScaledPart {
  part: number;
  down: Tensor;
  up: Tensor;
  rank: number;
  /** PEFT's alpha / rank for this module. */
  scale: number;
}

function completePart(
  part: number,
  { modulePath, down, up }: PartTensors,
  config: ComponentLoraConfig | undefined,
  fileName: string,
): ScaledPart {
  if (!down || !up) {
    throw new LoraFileError(`\`transformer.${modulePath}\` has only its ${down ? 'lora_A' : 'lora_B'}`, {
      code: 'incomplete_module',
      culprit: fileName,
    });
  }
  const rank = down.shape[0] ?? 0;
  if (down.shape.length !== 2 || up.shape.length !== 2 || up.shape[1] !== rank || rank === 0) {
    throw new LoraFileError(
      `\`transformer.${modulePath}\` ${JSON.stringify(down.shape)} and its lora_B ${JSON.stringify(up.shape)} are not a Linear LoRA pair`,
      { code: 'lora_shape_mismatch', culprit: fileName },
    );
  }
  const { alpha } = moduleScale(config, modulePath, rank, fileName);
  return { part, down, up, rank, scale: alpha / rank };
}

function single(part: ScaledPart, swapHalves: boolean): { down: Tensor; up: Tensor; alpha: number } {
  const up = swapHalves ? swapRowHalves(part.up) : part.up;
  return { down: part.down, up, alpha: part.scale * part.rank };
}

/**
 * down = [A_p; …] (ranks stacked), up = block-diagonal: B_p·(s_p/s₀) at (the part's output rows, its rank columns),
 * zero elsewhere (also the rows of parts the LoRA did not train); alpha = s₀·R so kohya's alpha/R is s₀.
 */
function fused(present: ScaledPart[], parts: number): { down: Tensor; up: Tensor; alpha: number } {
  const dtype = present[0]!.up.dtype as FloatDtype;
  const width = fusedWidth(present);
  const outWidths = Array.from({ length: parts }, (_, p) => (p === 3 ? MLP_RATIO * width : width));
  const rowOffsets = outWidths.map((_, p) => outWidths.slice(0, p).reduce((a, b) => a + b, 0));
  const totalOut = outWidths.reduce((a, b) => a + b, 0);
  const rank = present.reduce((sum, p) => sum + p.rank, 0);
  const inFeatures = present[0]!.down.shape[1]!;
  const reference = present[0]!.scale;
  const down = new Float32Array(rank * inFeatures);
  const up = new Float32Array(totalOut * rank);
  let column = 0;
  for (const part of present) {
    down.set(decodeFloats(part.down.dtype as FloatDtype, part.down.data), column * inFeatures);
    const values = decodeFloats(part.up.dtype as FloatDtype, part.up.data);
    const factor = part.scale / reference;
    for (let row = 0; row < part.up.shape[0]!; row++) {
      for (let r = 0; r < part.rank; r++) {
        up[(rowOffsets[part.part]! + row) * rank + column + r] = values[row * part.rank + r]! * factor;
      }
    }
    column += part.rank;
  }
  return {
    down: { dtype, shape: [rank, inFeatures], data: encodeFloats(dtype, down) },
    up: { dtype, shape: [totalOut, rank], data: encodeFloats(dtype, up) },
    alpha: reference * rank,
  };
}

/** The attention width: a q/k/v part's output width, or the MLP part's over MLP_RATIO. */
function fusedWidth(present: ScaledPart[]): number {
  const attention = present.find((p) => p.part < 3);
  return attention ? attention.up.shape[0]! : present[0]!.up.shape[0]! / MLP_RATIO;
}

function swapRowHalves(tensor: Tensor): Tensor {
  const half = tensor.data.length / 2;
  const data = new Uint8Array(tensor.data.length);
  data.set(tensor.data.subarray(half), 0);
  data.set(tensor.data.subarray(0, half), half);
  return { ...tensor, data };
}

function checkDtype(key: string, tensor: Tensor, fileName: string): void {
  if (!isFloatDtype(tensor.dtype)) {
    throw new LoraFileError(`\`${key}\` is ${tensor.dtype}; LoRA weights must be F32, F16 or BF16`, {
      code: 'unsupported_dtype',
      culprit: fileName,
    });
  }
}

/**
 * A kohya Flux LoRA file's tensors → the diffusers file FluxPipeline.load_lora_weights reads (`transformer.` keys,
 * the LoraConfig in `lora_adapter_metadata`). A fused module is split by output rows into its parts; when each part's
 * rows use their own rank columns only (the block-diagonal `up` fluxPeftToKohya and kohya's split-qkv write), each
 * part gets just those columns and their rows of `down`, so diffusers → kohya → diffusers gives the original back.
 * Otherwise (one dense LoRA over the fused Linear, as kohya trains by default) every part gets the whole `down` and
 * its rows of `up`, which is exact too, at the full rank. A part whose rows are all zero is left out.
 */
export function fluxKohyaToPeft(file: SafetensorsContent, options: { fileName: string }): SafetensorsContent {
  const { fileName } = options;
  const tensors = new Map<string, Tensor>();
  const scales: { path: string; rank: number; alpha: number }[] = [];
  for (const name of kohyaModuleNames(file, fileName)) {
    const paths = fluxDiffusersModules(name);
    if (paths.length === 0) {
      throw new LoraFileError(`module \`${name}\` is not a Flux transformer module`, {
        code: 'not_flux_lora_key',
        culprit: fileName,
        hint: 'expected kohya Flux names such as `lora_unet_double_blocks_0_img_attn_qkv`',
      });
    }
    const down = file.tensors.get(`${name}.lora_down.weight`);
    const up = file.tensors.get(`${name}.lora_up.weight`);
    if (!down || !up) {
      throw new LoraFileError(`module \`${name}\` lacks its lora_down or lora_up weight`, {
        code: 'incomplete_module',
        culprit: fileName,
      });
    }
    checkDtype(`${name}.lora_down.weight`, down, fileName);
    checkDtype(`${name}.lora_up.weight`, up, fileName);
    const rank = down.shape[0]!;
    const alphaTensorOf = file.tensors.get(`${name}.alpha`);
    const alpha = alphaTensorOf ? decodeFloats(alphaTensorOf.dtype as FloatDtype, alphaTensorOf.data)[0]! : rank;
    for (const part of splitModule(paths, down, up, name === kohyaName('final_layer.adaLN_modulation.1'))) {
      tensors.set(`transformer.${part.path}.lora_A.weight`, part.down);
      tensors.set(`transformer.${part.path}.lora_B.weight`, part.up);
      scales.push({ path: part.path, rank: part.down.shape[0]!, alpha: (alpha * part.down.shape[0]!) / rank });
    }
  }
  return { metadata: { format: 'pt', lora_adapter_metadata: transformerMetadata(scales) }, tensors };
}

function kohyaModuleNames(file: SafetensorsContent, fileName: string): string[] {
  const names = new Set<string>();
  for (const key of file.tensors.keys()) {
    const match = /^(lora_unet_.+?)\.(lora_down\.weight|lora_up\.weight|alpha)$/.exec(key);
    if (!match) {
      throw new LoraFileError(`key \`${key}\` is not a kohya LoRA key (\`lora_unet_….lora_down.weight\`)`, {
        code: 'not_flux_lora_key',
        culprit: fileName,
      });
    }
    names.add(match[1]!);
  }
  return [...names];
}

interface SplitPart {
  path: string;
  down: Tensor;
  up: Tensor;
}

function splitModule(paths: string[], down: Tensor, up: Tensor, swapHalves: boolean): SplitPart[] {
  if (paths.length === 1) return [{ path: paths[0]!, down, up: swapHalves ? swapRowHalves(up) : up }];
  const dtype = up.dtype as FloatDtype;
  const [out, rank] = up.shape as [number, number];
  const inFeatures = down.shape[1]!;
  const width = paths.length === 4 ? out / (3 + MLP_RATIO) : out / 3;
  const heights = paths.map((_, p) => (p === 3 ? MLP_RATIO * width : width));
  const upValues = decodeFloats(dtype, up.data);
  const downValues = decodeFloats(down.dtype as FloatDtype, down.data);
  let firstRow = 0;
  const columnsOf = heights.map((height) => {
    const used = new Set<number>();
    for (let row = firstRow; row < firstRow + height; row++)
      for (let c = 0; c < rank; c++) if (upValues[row * rank + c] !== 0) used.add(c);
    firstRow += height;
    return [...used].sort((a, b) => a - b);
  });
  const seen = columnsOf.flat();
  const isBlockSparse = new Set(seen).size === seen.length;
  const all = Array.from({ length: rank }, (_, c) => c);
  const parts: SplitPart[] = [];
  firstRow = 0;
  for (const [p, path] of paths.entries()) {
    const columns = isBlockSparse ? columnsOf[p]! : all;
    const rows = heights[p]!;
    if (columnsOf[p]!.length > 0) {
      const partDown = new Float32Array(columns.length * inFeatures);
      for (const [i, c] of columns.entries())
        partDown.set(downValues.subarray(c * inFeatures, (c + 1) * inFeatures), i * inFeatures);
      const partUp = new Float32Array(rows * columns.length);
      for (let row = 0; row < rows; row++)
        for (const [i, c] of columns.entries())
          partUp[row * columns.length + i] = upValues[(firstRow + row) * rank + c]!;
      parts.push({
        path,
        down: {
          dtype: down.dtype,
          shape: [columns.length, inFeatures],
          data: encodeFloats(down.dtype as FloatDtype, partDown),
        },
        up: { dtype, shape: [rows, columns.length], data: encodeFloats(dtype, partUp) },
      });
    }
    firstRow += rows;
  }
  return parts;
}

/** diffusers' flattened `transformer.<field>` LoraConfig: the commonest rank and alpha, patterns for the others. */
function transformerMetadata(scales: readonly { path: string; rank: number; alpha: number }[]): string {
  const commonest = (values: number[]) => {
    const counts = new Map<number, number>();
    for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
    return [...counts.entries()].reduce((best, entry) => (entry[1] > best[1] ? entry : best))[0];
  };
  const r = commonest(scales.map((s) => s.rank));
  const alpha = commonest(scales.map((s) => s.alpha));
  const config: Record<string, unknown> = {
    alpha_pattern: Object.fromEntries(scales.filter((s) => s.alpha !== alpha).map((s) => [s.path, s.alpha])),
    bias: 'none',
    lora_alpha: alpha,
    peft_type: 'LORA',
    r,
    rank_pattern: Object.fromEntries(scales.filter((s) => s.rank !== r).map((s) => [s.path, s.rank])),
    target_modules: [...new Set(scales.map((s) => s.path))].sort(),
    use_dora: false,
    use_rslora: false,
  };
  return JSON.stringify(Object.fromEntries(Object.entries(config).map(([k, v]) => [`transformer.${k}`, v])), null, 2);
}

/** Where a Flux transformer's weights sit in the files people share: BFL's bare names, ComfyUI's full checkpoints. */
const CHECKPOINT_PREFIXES = ['model.diffusion_model.', 'diffusion_model.', ''] as const;

/**
 * kohya module name → the BFL checkpoint weight it changes (a merge adds (alpha/rank)·up·down to it; fused modules
 * match fused weights row for row, see fluxPeftToKohya). Undefined when `tensors` holds no Flux transformer.
 */
export function fluxCheckpointTargets(tensors: ReadonlyMap<string, TensorInfo>): Map<string, MergeTarget> | undefined {
  const prefix = CHECKPOINT_PREFIXES.find((p) => tensors.has(`${p}double_blocks.0.img_attn.norm.key_norm.scale`));
  if (prefix === undefined) return undefined;
  const targets = new Map<string, MergeTarget>();
  for (const [key, info] of tensors) {
    if (!key.startsWith(prefix) || !key.endsWith('.weight') || info.shape.length !== 2) continue;
    const module = key.slice(prefix.length, -'.weight'.length);
    if (module.startsWith('vae.') || module.startsWith('text_encoders.')) continue; // ComfyUI's bundled parts
    targets.set(kohyaName(module), { key });
  }
  return targets;
}

// Any LoRA file (kohya, diffusers/PEFT, older diffusers spellings) → one list of modules, each with its diffusers
// path, its kohya name, the down/up tensors (bytes untouched) and alpha. Pure: takes a parsed file. convert,
// merge, combine and resize all start here, so a new input format is taught once.
import { alphaValue } from './alpha-tensor.js';
import { kohyaModuleName, type BaseFamily, type LoraComponent } from './kohya-keys.js';
import { comfyToKohyaName, kohyaModulePath } from './kohya-module-path.js';
import { LoraFileError } from './lora-file-error.js';
import {
  detectFamily,
  detectFormat,
  groupModules,
  type FamilyGuess,
  type HeaderModule,
  type LoraFormat,
} from './lora-format.js';
import { moduleScale, parseAdapterMetadata, type AdapterConfigs } from './peft-adapter-config.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';
import { SD_UNET_LAYOUT, sdxlUnetLayout, type UnetLayout } from './unet-ldm-layout.js';

export interface LoraModule {
  component: LoraComponent;
  /** The adapted module's diffusers path inside its component; text encoders carry `text_model.`. */
  path: string;
  /** sd-scripts' name for it in this family (SDXL UNet: LDM names), without `.lora_down.weight`. */
  kohyaName: string;
  /** The key stem in the file it was read from. */
  sourceName: string;
  /** `[r, in]` or `[r, in, k, k]`; the file's bytes and dtype. */
  down: Tensor;
  /** `[out, r]` or `[out, r, 1, 1]`. */
  up: Tensor;
  rank: number;
  /** kohya alpha: the weight change is (alpha / rank) · up · down. Equals rank when the file stores none. */
  alpha: number;
  /** The `.alpha` tensor exactly as a kohya file stored it. */
  alphaTensor: Tensor | undefined;
}

export interface LoraModuleSet {
  format: LoraFormat;
  family: BaseFamily;
  /** Why this family: the user's choice, or what detectFamily saw. */
  familyBasis: string;
  /** The UNet's layers per block that SDXL LDM names were read with and kohya names are written with. */
  layersPerBlock: number;
  modules: LoraModule[];
}

export interface ReadLoraModulesOptions {
  /** Names the file in errors. */
  fileName: string;
  /** Skips detection (needed when a file has no telling layers or metadata). */
  family?: BaseFamily;
  /**
   * The UNet's layers per block (2 in every real SD/SDXL model). Default: what the file's SDXL LDM names read
   * with, else `lora_scripts.unet_layers_per_block` (written by convert), else 2.
   */
  layersPerBlock?: number;
}

/** Metadata key recording a UNet's layers per block when it is not 2 (tiny test models), so names round-trip. */
export const LAYERS_PER_BLOCK_KEY = 'lora_scripts.unet_layers_per_block';

const WEIGHT_DTYPES = new Set(['F32', 'F16', 'BF16']);

/**
 * Reads every module of a kohya or diffusers/PEFT LoRA file. Refuses, naming the key: LyCORIS factorizations other
 * than plain LoRA/LoCon, DoRA, keys outside SD/SDXL UNets and CLIP text encoders, and incomplete or misshapen pairs.
 */
export function readLoraModules(file: SafetensorsContent, options: ReadLoraModulesOptions): LoraModuleSet {
  const { fileName } = options;
  const { modules: grouped, stray } = groupModules(file.tensors);
  const format = detectFormat([...file.tensors.keys()], grouped, file.metadata.ss_network_module);
  if (file.tensors.size === 0)
    throw new LoraFileError('holds no tensors', { code: 'no_lora_tensors', culprit: fileName });
  if (!format.isConvertible || stray.length > 0) throw unsupported(fileName, format, grouped, stray);
  const { family, basis } = options.family
    ? { family: options.family, basis: 'given' }
    : namingFamily(detectFamily(grouped, file.tensors, file.metadata));
  if (family === undefined) {
    throw new LoraFileError(`cannot tell the base family (${basis})`, {
      code: 'family_unknown',
      culprit: fileName,
      hint: 'pass `--family sd1`, `sd2` or `sdxl`',
    });
  }
  const configs =
    format.name === 'diffusers' ? parseAdapterMetadata(file.metadata.lora_adapter_metadata, fileName) : {};
  const unetLayout = unetLayoutOf(grouped, family, file.metadata, options.layersPerBlock);
  const modules = grouped.map((module) => readModule(module, { file, family, configs, fileName, unetLayout }));
  checkUnique(modules, fileName);
  return { format, family, familyBasis: basis, layersPerBlock: unetLayout.layersPerBlock, modules };
}

/** SD 1.x and 2.x name every LoRA key alike, so a file that is one of the two converts as sd1. */
function namingFamily(guess: FamilyGuess): FamilyGuess {
  return guess.isSd1OrSd2 ? { family: 'sd1', basis: `${guess.basis} (SD 1.x and 2.x keys are named alike)` } : guess;
}

interface ReadContext {
  file: SafetensorsContent;
  family: BaseFamily;
  configs: AdapterConfigs;
  fileName: string;
  unetLayout: UnetLayout;
}

const LDM_UNET_NAME = /^lora_unet_(input_blocks|middle_block|output_blocks)_/;

/**
 * The UNet block layout LDM names are read in: SDXL's for SDXL (sd-scripts writes LDM names), SD 1.x/2.x's for the
 * rest (some tools write LDM names for them too). Its layers per block is the first under which every LDM name
 * reads back; without LDM names, `lora_scripts.unet_layers_per_block` (written by convert) or 2.
 */
function unetLayoutOf(
  modules: readonly HeaderModule[],
  family: BaseFamily,
  metadata: Readonly<Record<string, string>>,
  given?: number,
): UnetLayout {
  const layout = (layers: number) =>
    family === 'sdxl' ? sdxlUnetLayout(layers) : { ...SD_UNET_LAYOUT, layersPerBlock: layers };
  if (given !== undefined) return layout(given);
  const ldm = modules.map((m) => comfyToKohyaName(m.name) ?? m.name).filter((name) => LDM_UNET_NAME.test(name));
  const reads = (candidate: UnetLayout) =>
    ldm.every((name) => {
      try {
        return kohyaModulePath(name, candidate) !== undefined;
      } catch {
        return false;
      }
    });
  if (ldm.length > 0) return [2, 1, 3].map(layout).find(reads) ?? layout(2);
  const recorded = Number(metadata[LAYERS_PER_BLOCK_KEY]);
  return layout(Number.isInteger(recorded) && recorded > 0 ? recorded : 2);
}

function readModule(module: HeaderModule, context: ReadContext): LoraModule {
  const { file, family, fileName, unetLayout } = context;
  const key = (part: string) => module.parts[part] ?? '';
  const down = file.tensors.get(key('down'));
  const up = file.tensors.get(key('up'));
  if (!down || !up) {
    const [has, missing] = down ? ['down', 'up'] : ['up', 'down'];
    throw new LoraFileError(`\`${key(has) || key('alpha')}\` has no matching ${missing} weight`, {
      code: 'incomplete_module',
      culprit: fileName,
    });
  }
  const rank = checkPair(key('down'), down, up, fileName);
  const { component, path } = inFile(fileName, key('down'), () => modulePath(module, unetLayout));
  const kohyaName = inFile(fileName, key('down'), () =>
    kohyaModuleName({ key: key('down'), component, modulePath: path, part: 'down' }, family, unetLayout.layersPerBlock),
  );
  const alphaTensor = module.parts.alpha === undefined ? undefined : file.tensors.get(key('alpha'));
  const alpha = alphaTensor
    ? storedAlpha(key('alpha'), alphaTensor, fileName)
    : diffusersAlpha(module, component, rank, context);
  return { component, path, kohyaName, sourceName: module.name, down, up, rank, alpha, alphaTensor };
}

/** kohya names are split against the known vocabulary; diffusers paths are read as written, old spellings mapped. */
function modulePath(module: HeaderModule, unetLayout: UnetLayout): { component: LoraComponent; path: string } {
  if (module.name.startsWith('lora_')) return kohyaModulePath(module.name, unetLayout);
  const comfy = comfyToKohyaName(module.name);
  if (comfy !== undefined) return kohyaModulePath(comfy, unetLayout);
  const component = module.component!;
  const written = module.name.slice(component.length + 1);
  const path = component === 'unet' ? unetPath(written) : textEncoderPath(written);
  // Validated through the kohya name: it must read back to the same module. (diffusers UNet names are kept as
  // they are for sd1; sdxl gives the text encoders te1/te2 prefixes.)
  const namingFamily = component === 'unet' ? 'sd1' : 'sdxl';
  const back = kohyaModulePath(
    kohyaModuleName({ key: module.name, component, modulePath: path, part: 'down' }, namingFamily),
  );
  if (back.path !== path)
    throw new LoraFileError(`not a LoRA layer this tool knows (reads back as \`${back.path}\`)`, {
      code: 'unknown_module',
      culprit: module.name,
    });
  return { component, path };
}

// diffusers' attn-processor era: `attn1.processor.to_q_lora` (docs/formats/diffusers-peft-lora.md §1.1) is the
// module `attn1.to_q`.
const PROCESSOR_NAMES: Readonly<Record<string, string>> = {
  to_q: 'to_q',
  to_k: 'to_k',
  to_v: 'to_v',
  to_out: 'to_out.0',
};
const TEXT_PROCESSOR_NAMES: Readonly<Record<string, string>> = {
  to_q: 'q_proj',
  to_k: 'k_proj',
  to_v: 'v_proj',
  to_out: 'out_proj',
};

function unetPath(written: string): string {
  return written.replace(/\.processor\.(to_q|to_k|to_v|to_out)$/, (_, name: string) => `.${PROCESSOR_NAMES[name]}`);
}

function textEncoderPath(written: string): string {
  const path = written.replace(/\.(to_q|to_k|to_v|to_out)$/, (_, name: string) => `.${TEXT_PROCESSOR_NAMES[name]}`);
  return path.startsWith('text_model.') ? path : `text_model.${path}`;
}

/** docs/formats/kohya-lora.md §4: down [r, in] / [r, in, k, k], up [out, r] / [out, r, 1, 1]. Returns r. */
function checkPair(downKey: string, down: Tensor, up: Tensor, fileName: string): number {
  for (const tensor of [down, up]) {
    if (!WEIGHT_DTYPES.has(tensor.dtype)) {
      throw new LoraFileError(`\`${downKey}\` is ${tensor.dtype}; LoRA weights must be F32, F16 or BF16`, {
        code: 'unsupported_dtype',
        culprit: fileName,
      });
    }
  }
  const [rank = 0] = down.shape;
  const [d, u] = [down.shape, up.shape];
  const isLinear = d.length === 2 && u.length === 2;
  const isConv = d.length === 4 && u.length === 4 && u[2] === 1 && u[3] === 1;
  if ((!isLinear && !isConv) || u[1] !== rank || rank === 0) {
    throw new LoraFileError(
      `\`${downKey}\` ${JSON.stringify(d)} and its up weight ${JSON.stringify(u)} are not a LoRA pair`,
      { code: 'lora_shape_mismatch', culprit: fileName },
    );
  }
  return rank;
}

function storedAlpha(key: string, tensor: Tensor, fileName: string): number {
  const value = alphaValue(tensor);
  if (value === undefined || !Number.isFinite(value)) {
    throw new LoraFileError(
      `\`${key}\` (${tensor.dtype} ${JSON.stringify(tensor.shape)}) is not a finite scalar alpha`,
      { code: 'invalid_alpha', culprit: fileName },
    );
  }
  return value;
}

/** diffusers files keep alpha in `lora_adapter_metadata`; without it diffusers loads alpha = rank, and so do we. */
function diffusersAlpha(
  module: HeaderModule,
  component: LoraComponent,
  rank: number,
  { configs, fileName }: ReadContext,
): number {
  const written = module.name.slice(component.length + 1);
  const scale = moduleScale(configs[component], written, rank, fileName);
  if (scale.rank !== rank) {
    throw new LoraFileError(
      `\`${module.parts.down}\` has rank ${rank} but \`lora_adapter_metadata\` says ${scale.rank}`,
      { code: 'rank_mismatch', culprit: fileName },
    );
  }
  return scale.alpha;
}

function checkUnique(modules: readonly LoraModule[], fileName: string): void {
  const seen = new Map<string, string>();
  for (const { component, path, sourceName } of modules) {
    const earlier = seen.get(`${component}.${path}`);
    if (earlier !== undefined) {
      throw new LoraFileError(`\`${earlier}\` and \`${sourceName}\` are the same module (${component} \`${path}\`)`, {
        code: 'duplicate_module',
        culprit: fileName,
        hint: 'keep one of the two; the file was probably merged from two naming styles',
      });
    }
    seen.set(`${component}.${path}`, sourceName);
  }
}

/** Runs a name mapping; on failure the file is the culprit and the key is named in the message. */
function inFile<T>(fileName: string, key: string, map: () => T): T {
  try {
    return map();
  } catch (error) {
    if (!(error instanceof LoraFileError)) throw error;
    throw new LoraFileError(`key \`${key}\`: ${error.message}`, {
      code: error.code,
      culprit: fileName,
      hint: error.hint,
    });
  }
}

function unsupported(
  fileName: string,
  format: LoraFormat,
  modules: readonly HeaderModule[],
  stray: readonly string[],
): LoraFileError {
  const odd = modules.find(
    (m) => m.kind !== 'lora' || m.hasDora || m.parts.up_bias !== undefined || m.component === undefined,
  );
  const example =
    stray[0] ??
    Object.values(odd?.parts ?? {})
      .sort()
      .find((key) => !key.endsWith('.alpha'));
  const what = ['unknown', 'checkpoint', 'peft-adapter'].includes(format.name)
    ? `is ${describeFormat(format)}`
    : `is a ${describeFormat(format)} file`;
  const only =
    format.name === 'lycoris' || format.name === 'diffusers' || format.name === 'comfyui'
      ? 'only LoRA/LoCon modules (down, up, alpha) can be converted'
      : 'only SD 1.x/2.x/SDXL and Flux.1 LoRAs with kohya or diffusers keys can be converted';
  return new LoraFileError(`${what}${example ? ` (key \`${example}\`)` : ''}; ${only}`, {
    code: 'unsupported_format',
    culprit: fileName,
    hint:
      format.name === 'lycoris'
        ? "LyCORIS' own tools handle its LoHa/LoKr/DoRA modules; `lora-scripts inspect` shows what the file holds"
        : '`lora-scripts inspect` shows what the file holds',
  });
}

function describeFormat(format: LoraFormat): string {
  if (format.name === 'unknown') return 'not a LoRA file this tool knows';
  if (format.name === 'checkpoint') return 'a base model checkpoint, not a LoRA';
  if (format.name === 'peft-adapter')
    return 'a PEFT `save_pretrained` adapter (`base_model.model.` keys), not a diffusers LoRA';
  return `${format.name} ${format.variant}`;
}

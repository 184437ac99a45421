// PEFT/diffusers LoRA tensors → kohya tensors: three per module (down, up, alpha), weight bytes shared, not
// re-encoded. Pure: takes a parsed file, returns the new tensors (to-kohya.ts reads and writes).
import { alphaTensor, type AlphaDtype } from './alpha-tensor.js';
import { kohyaModuleName, parsePeftKey, type BaseFamily, type LoraComponent, type PeftKey } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { moduleScale, parseAdapterMetadata, type AdapterConfigs } from './peft-adapter-config.js';
import type { SafetensorsContent, Tensor } from './safetensors.js';

export interface PeftToKohyaOptions {
  family: BaseFamily;
  /** Names the file in errors. */
  fileName: string;
  /** Default F32: see to-kohya.ts. */
  alphaDtype?: AlphaDtype;
  /** The UNet's layers per block; SDXL's LDM names depend on it. */
  layersPerBlock?: number;
}

export type AlphaSource = 'lora_adapter_metadata' | 'rank';

export interface KohyaModule {
  /** e.g. `lora_unet_down_blocks_0_attentions_0_proj_in` */
  name: string;
  component: LoraComponent;
  rank: number;
  alpha: number;
}

export interface KohyaTensors {
  tensors: Map<string, Tensor>;
  modules: KohyaModule[];
  /** Where each component's alphas came from: the saved LoraConfig, or alpha = rank when the file has none. */
  alphaSources: Partial<Record<LoraComponent, AlphaSource>>;
}

interface ModuleParts {
  component: LoraComponent;
  down?: { key: PeftKey; tensor: Tensor };
  up?: { key: PeftKey; tensor: Tensor };
}

const WEIGHT_DTYPES = new Set(['F32', 'F16', 'BF16']);

export function peftToKohya(file: SafetensorsContent, options: PeftToKohyaOptions): KohyaTensors {
  const { fileName } = options;
  const configs = parseAdapterMetadata(file.metadata.lora_adapter_metadata, fileName);
  const groups = groupByModule(file, options);
  if (groups.size === 0)
    throw new LoraFileError('holds no LoRA tensors', { code: 'no_lora_tensors', culprit: fileName });
  const tensors = new Map<string, Tensor>();
  const modules: KohyaModule[] = [];
  for (const [name, parts] of groups) {
    const module = kohyaModule(name, parts, configs, fileName);
    modules.push(module);
    tensors.set(`${name}.lora_down.weight`, parts.down!.tensor);
    tensors.set(`${name}.lora_up.weight`, parts.up!.tensor);
    tensors.set(`${name}.alpha`, alphaTensor(module.alpha, options.alphaDtype ?? 'F32', fileName));
  }
  return { tensors, modules, alphaSources: alphaSources(modules, configs) };
}

function groupByModule(file: SafetensorsContent, options: PeftToKohyaOptions): Map<string, ModuleParts> {
  const groups = new Map<string, ModuleParts>();
  for (const [key, tensor] of file.tensors) {
    const parsed = inFile(options.fileName, () => parsePeftKey(key));
    const name = inFile(options.fileName, () => kohyaModuleName(parsed, options.family, options.layersPerBlock));
    const group = groups.get(name) ?? { component: parsed.component };
    const earlier = group[parsed.part];
    if (earlier) {
      // e.g. both `text_encoder.encoder.…` and `text_encoder.text_model.encoder.…`, or lora_A next to lora.down.
      throw new LoraFileError(
        `keys \`${earlier.key.key}\` and \`${key}\` are the same kohya tensor \`${name}.lora_${parsed.part}.weight\``,
        { code: 'duplicate_module', culprit: options.fileName },
      );
    }
    group[parsed.part] = { key: parsed, tensor };
    groups.set(name, group);
  }
  return groups;
}

/** Runs a key mapping and, if it fails, names the file as the culprit and the key in the message. */
function inFile<T>(fileName: string, map: () => T): T {
  try {
    return map();
  } catch (error) {
    if (!(error instanceof LoraFileError)) throw error;
    const isKohya = /^lora_(unet|te\d?)_/.test(error.culprit ?? '');
    const hint = isKohya ? 'this file already has kohya keys; it needs no conversion' : error.hint;
    throw new LoraFileError(`key \`${error.culprit}\`: ${error.message}`, {
      code: error.code,
      culprit: fileName,
      hint,
    });
  }
}

function kohyaModule(name: string, parts: ModuleParts, configs: AdapterConfigs, fileName: string): KohyaModule {
  const { down, up } = parts;
  if (!down || !up) {
    const [has, missing] = down ? ['lora_A', 'lora_B'] : ['lora_B', 'lora_A'];
    const key = (down ?? up)!.key.key;
    throw new LoraFileError(`\`${key}\` (${has}) has no matching ${missing}`, {
      code: 'incomplete_module',
      culprit: fileName,
    });
  }
  const tensorRank = checkShapes(down, up, fileName);
  const scale = moduleScale(configs[parts.component], down.key.modulePath, tensorRank, fileName);
  if (scale.rank !== tensorRank) {
    throw new LoraFileError(
      `\`${down.key.key}\` has rank ${tensorRank} but \`lora_adapter_metadata\` says ${scale.rank}`,
      { code: 'rank_mismatch', culprit: fileName },
    );
  }
  return { name, component: parts.component, rank: tensorRank, alpha: scale.alpha };
}

/** Down is [r, in] or [r, in, k, k]; up is [out, r] or [out, r, 1, 1] (docs/formats/kohya-lora.md §4). Returns r. */
function checkShapes(
  down: { key: PeftKey; tensor: Tensor },
  up: { key: PeftKey; tensor: Tensor },
  fileName: string,
): number {
  for (const { key, tensor } of [down, up]) {
    if (!WEIGHT_DTYPES.has(tensor.dtype)) {
      throw new LoraFileError(`\`${key.key}\` is ${tensor.dtype}; LoRA weights must be F32, F16 or BF16`, {
        code: 'unsupported_dtype',
        culprit: fileName,
      });
    }
  }
  const [rank = 0] = down.tensor.shape;
  const d = down.tensor.shape;
  const u = up.tensor.shape;
  const isLinear = d.length === 2 && u.length === 2;
  const isConv = d.length === 4 && u.length === 4 && u[2] === 1 && u[3] === 1;
  if ((!isLinear && !isConv) || u[1] !== rank || rank === 0) {
    throw new LoraFileError(
      `\`${down.key.key}\` ${JSON.stringify(d)} and its lora_B ${JSON.stringify(u)} are not a LoRA pair`,
      { code: 'lora_shape_mismatch', culprit: fileName },
    );
  }
  return rank;
}

function alphaSources(modules: KohyaModule[], configs: AdapterConfigs): Partial<Record<LoraComponent, AlphaSource>> {
  const sources: Partial<Record<LoraComponent, AlphaSource>> = {};
  for (const { component } of modules) sources[component] = configs[component] ? 'lora_adapter_metadata' : 'rank';
  return sources;
}

// PEFT/diffusers LoRA keys → kohya/WebUI module names (docs/formats/kohya-lora.md §1, §3). Pure.
import { LoraFileError } from './lora-file-error.js';
import { ldmUnetPath, sdxlUnetLayout } from './unet-ldm-layout.js';

export type BaseFamily = 'sd1' | 'sd2' | 'sdxl';
export type LoraComponent = 'unet' | 'text_encoder' | 'text_encoder_2';

/** One LoRA weight key taken apart. */
export interface PeftKey {
  /** The key as written in the file; errors name it. */
  key: string;
  component: LoraComponent;
  /** The adapted module's name inside its component, exactly as in the file (what PEFT's patterns match). */
  modulePath: string;
  /** `down` is PEFT's `lora_A` (in → rank), `up` is `lora_B` (rank → out). */
  part: 'down' | 'up';
}

// PEFT style first; the two "diffusers new" spellings come from convert_state_dict_to_diffusers
// (docs/formats/diffusers-peft-lora.md §1.1).
const PART_SUFFIXES: ReadonlyArray<readonly [string, PeftKey['part']]> = [
  ['.lora_A.weight', 'down'],
  ['.lora_B.weight', 'up'],
  ['.lora.down.weight', 'down'],
  ['.lora.up.weight', 'up'],
  ['.lora_linear_layer.down.weight', 'down'],
  ['.lora_linear_layer.up.weight', 'up'],
];

const COMPONENTS: readonly LoraComponent[] = ['text_encoder_2', 'text_encoder', 'unet'];

export function parsePeftKey(key: string): PeftKey {
  const component = COMPONENTS.find((name) => key.startsWith(`${name}.`));
  const suffix = PART_SUFFIXES.find(([ending]) => key.endsWith(ending));
  const modulePath = component && suffix ? key.slice(component.length + 1, key.length - suffix[0].length) : '';
  if (!component || !suffix || modulePath === '') {
    throw keyError(
      key,
      'not a LoRA weight key (expected `unet.`, `text_encoder.` or `text_encoder_2.` … `.lora_A.weight` / `.lora_B.weight`)',
    );
  }
  return { key, component, modulePath, part: suffix[1] };
}

/**
 * The kohya module name (`lora_unet_…`, `lora_te_…`, `lora_te1_…`, `lora_te2_…`) for a module, without the
 * `.lora_down.weight` / `.lora_up.weight` / `.alpha` ending. `layersPerBlock` is the UNet's; only SDXL uses it.
 */
export function kohyaModuleName(key: PeftKey, family: BaseFamily, layersPerBlock = 2): string {
  if (key.component === 'unet') {
    // sd-scripts trains SD1/SD2 on a diffusers-layout UNet but SDXL on its own LDM-layout one
    // (docs/formats/kohya-lora.md §3).
    const path = family === 'sdxl' ? sdxlLdmPath(key.modulePath, layersPerBlock, key.key) : checkedUnetPath(key);
    return `lora_unet_${underscored(path)}`;
  }
  return `${textEncoderPrefix(key, family)}_${underscored(textModelPath(key))}`;
}

/** `unet.X.lora_A.weight` → `lora_unet_X.lora_down.weight`, and the same for `lora_B`/`lora_up` and the text encoders. */
export function peftKeyToKohya(key: string, family: BaseFamily, layersPerBlock = 2): string {
  const parsed = parsePeftKey(key);
  return `${kohyaModuleName(parsed, family, layersPerBlock)}.lora_${parsed.part}.weight`;
}

const underscored = (path: string) => path.replaceAll('.', '_');

function textEncoderPrefix({ key, component }: PeftKey, family: BaseFamily): string {
  if (family === 'sdxl') return component === 'text_encoder' ? 'lora_te1' : 'lora_te2';
  if (component === 'text_encoder_2') {
    throw keyError(key, `a second text encoder's layer, but ${family.toUpperCase()} has one text encoder`);
  }
  return 'lora_te';
}

/**
 * transformers ≥ 5 flattens CLIPTextModel (no `text_model.`); kohya names always carry it
 * (docs/formats/kohya-lora.md §3).
 */
function textModelPath({ key, modulePath }: PeftKey): string {
  if (modulePath.startsWith('text_model.')) return modulePath;
  if (/^(encoder|embeddings|final_layer_norm)\./.test(modulePath)) return `text_model.${modulePath}`;
  throw keyError(key, 'not inside the CLIP text model (expected `text_model.…` or `encoder.…` after the component)');
}

// Top-level UNet modules a LoRA can adapt; anything else is not a module of these UNets.
const UNET_ROOTS = /^(down_blocks|mid_block|up_blocks|conv_in|conv_out|time_embedding|add_embedding)(\.|$)/;

function checkedUnetPath({ key, modulePath }: PeftKey): string {
  if (!UNET_ROOTS.test(modulePath)) throw keyError(key, 'not a module of a Stable Diffusion UNet');
  return modulePath;
}

/** diffusers SDXL UNet module path → sd-scripts' LDM path (docs/formats/diffusers-peft-lora.md §4, stride L + 1). */
export function sdxlLdmPath(path: string, layersPerBlock = 2, culprit = path): string {
  const result = ldmUnetPath(path, sdxlUnetLayout(layersPerBlock));
  if ('problem' in result) throw keyError(culprit, result.problem);
  return result.ldm;
}

function keyError(culprit: string, message: string): LoraFileError {
  return new LoraFileError(message, {
    code: 'unknown_key',
    culprit,
    hint: 'only UNet and CLIP text-encoder LoRA layers can be written in kohya format',
  });
}

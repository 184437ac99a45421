// PEFT/diffusers LoRA keys → kohya/WebUI module names (kohya-lora-format.md §1, §3). Pure.
import { LoraFileError } from './lora-file-error.js';

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

// PEFT style first; the two "diffusers new" spellings come from convert_state_dict_to_diffusers (format.md §1.1).
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
    throw keyError(key, 'not a LoRA weight key (expected `unet.`, `text_encoder.` or `text_encoder_2.` … `.lora_A.weight` / `.lora_B.weight`)');
  }
  return { key, component, modulePath, part: suffix[1] };
}

/**
 * The kohya module name (`lora_unet_…`, `lora_te_…`, `lora_te1_…`, `lora_te2_…`) for a module, without the
 * `.lora_down.weight` / `.lora_up.weight` / `.alpha` ending. `layersPerBlock` is the UNet's; only SDXL uses it.
 */
export function kohyaModuleName(key: PeftKey, family: BaseFamily, layersPerBlock = 2): string {
  if (key.component === 'unet') {
    // sd-scripts trains SD1/SD2 on a diffusers-layout UNet but SDXL on its own LDM-layout one (format.md §3).
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

/** transformers ≥ 5 flattens CLIPTextModel (no `text_model.`); kohya names always carry it (format.md §3). */
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

// SDXL: which down/up blocks hold attentions (format.md §4 "Block layout"); it decides the upsampler's slot.
const SDXL_DOWN_HAS_ATTENTION = [false, true, true];
const SDXL_UP_HAS_ATTENTION = [true, true, false];

const RESNET_LDM_NAMES: Readonly<Record<string, string>> = {
  conv1: 'in_layers.2',
  conv2: 'out_layers.3',
  time_emb_proj: 'emb_layers.1',
  conv_shortcut: 'skip_connection',
};

const SDXL_FIXED_LDM_NAMES: Readonly<Record<string, string>> = {
  conv_in: 'input_blocks.0.0',
  conv_out: 'out.2',
  'time_embedding.linear_1': 'time_embed.0',
  'time_embedding.linear_2': 'time_embed.2',
  'add_embedding.linear_1': 'label_emb.0.0',
  'add_embedding.linear_2': 'label_emb.0.2',
};

/** diffusers SDXL UNet module path → sd-scripts' LDM path (diffusers-peft-lora-format.md §4, stride L + 1). */
export function sdxlLdmPath(path: string, layersPerBlock = 2, culprit = path): string {
  const stride = layersPerBlock + 1;
  const fixed = SDXL_FIXED_LDM_NAMES[path];
  if (fixed !== undefined) return fixed;
  const block = /^(down_blocks|up_blocks)\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (block) {
    const [, side, i = '', kind, j = '', rest = ''] = block;
    const isDown = side === 'down_blocks';
    checkBlock(culprit, isDown, Number(i), kind === 'attentions', Number(j), layersPerBlock);
    const index = isDown ? stride * Number(i) + Number(j) + 1 : stride * Number(i) + Number(j);
    const inner = kind === 'attentions' ? `1.${rest}` : `0.${resnetLdmName(culprit, rest)}`;
    return `${isDown ? 'input_blocks' : 'output_blocks'}.${index}.${inner}`;
  }
  const sampler = /^(down_blocks|up_blocks)\.(\d+)\.(downsamplers|upsamplers)\.0\.conv$/.exec(path);
  if (sampler) return samplerLdmPath(culprit, sampler[1] === 'down_blocks', Number(sampler[2]), stride);
  const mid = /^mid_block\.(resnets\.([01])|attentions\.0)\.(.+)$/.exec(path);
  if (mid) {
    const rest = mid[3] ?? '';
    return mid[2] === undefined ? `middle_block.1.${rest}` : `middle_block.${2 * Number(mid[2])}.${resnetLdmName(culprit, rest)}`;
  }
  throw keyError(culprit, 'not a module of an SDXL UNet');
}

function checkBlock(culprit: string, isDown: boolean, block: number, isAttention: boolean, layer: number, layersPerBlock: number): void {
  const hasAttention = (isDown ? SDXL_DOWN_HAS_ATTENTION : SDXL_UP_HAS_ATTENTION)[block];
  // Up blocks have one layer more than down blocks: the extra one takes the skip connection.
  const layers = isDown ? layersPerBlock : layersPerBlock + 1;
  if (hasAttention === undefined || (isAttention && !hasAttention) || layer >= layers) {
    throw keyError(culprit, 'not a module of an SDXL UNet');
  }
}

function samplerLdmPath(culprit: string, isDown: boolean, block: number, stride: number): string {
  // The last down block has no downsampler and the last up block no upsampler.
  if (block >= SDXL_DOWN_HAS_ATTENTION.length - 1) throw keyError(culprit, 'not a module of an SDXL UNet');
  if (isDown) return `input_blocks.${stride * (block + 1)}.0.op`;
  // Both SDXL up blocks with an upsampler hold attentions, so it follows resnet (slot 0) and attention (slot 1).
  // (SD1's plain up block 0 would put it in slot 1; SD1 keeps diffusers names, so that case never comes here.)
  return `output_blocks.${stride * block + stride - 1}.2.conv`;
}

function resnetLdmName(culprit: string, name: string): string {
  const ldm = RESNET_LDM_NAMES[name];
  if (ldm === undefined) throw keyError(culprit, 'not a LoRA-adaptable layer of a ResNet block (conv1, conv2, time_emb_proj, conv_shortcut)');
  return ldm;
}

function keyError(culprit: string, message: string): LoraFileError {
  return new LoraFileError(message, { code: 'unknown_key', culprit, hint: 'only UNet and CLIP text-encoder LoRA layers can be written in kohya format' });
}

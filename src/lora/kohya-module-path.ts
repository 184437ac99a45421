// kohya module names → the diffusers module they adapt (the inverse of kohya-keys.ts). Pure.
// Underscores are ambiguous (`to_q`, `proj_in`, `transformer_blocks` hold one), so names are split against the
// vocabulary of multi-word names these models use, and the dotted result must match the module grammar.
import type { LoraComponent } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';
import { diffusersUnetPath, ldmUnetPath, sdxlUnetLayout, type UnetLayout } from './unet-ldm-layout.js';

export interface KohyaModulePath {
  component: LoraComponent;
  /** The module's diffusers path inside its component; text encoders always carry `text_model.`. */
  path: string;
  /** `ldm` when the UNet part used sd-scripts' SDXL names (`input_blocks_4_1_…`). */
  unetLayout?: 'diffusers' | 'ldm';
}

// Every name inside SD/SDXL UNets and CLIP text encoders that contains an underscore, longest match wins.
const MULTI_WORD_NAMES = [
  'down_blocks',
  'up_blocks',
  'mid_block',
  'transformer_blocks',
  'proj_in',
  'proj_out',
  'to_q',
  'to_k',
  'to_v',
  'to_out',
  'conv_in',
  'conv_out',
  'conv_shortcut',
  'time_emb_proj',
  'time_embedding',
  'add_embedding',
  'linear_1',
  'linear_2',
  'input_blocks',
  'middle_block',
  'output_blocks',
  'in_layers',
  'out_layers',
  'emb_layers',
  'skip_connection',
  'time_embed',
  'label_emb',
  'text_model',
  'self_attn',
  'q_proj',
  'k_proj',
  'v_proj',
  'out_proj',
].sort((a, b) => b.length - a.length);

const PREFIXES: ReadonlyArray<readonly [string, LoraComponent]> = [
  ['lora_unet_', 'unet'],
  ['lora_te1_', 'text_encoder'],
  ['lora_te2_', 'text_encoder_2'],
  ['lora_te_', 'text_encoder'],
];

const ATTENTION = String.raw`(proj_in|proj_out|transformer_blocks\.\d+\.(attn[12]\.(to_q|to_k|to_v|to_out\.0)|ff\.net\.0\.proj|ff\.net\.2))`;
const RESNET = '(conv1|conv2|time_emb_proj|conv_shortcut)';
const DIFFUSERS_UNET = new RegExp(
  String.raw`^((down|up)_blocks\.\d+\.(attentions\.\d+\.${ATTENTION}|resnets\.\d+\.${RESNET}|(down|up)samplers\.0\.conv)` +
    String.raw`|mid_block\.(attentions\.0\.${ATTENTION}|resnets\.[01]\.${RESNET})|conv_in|conv_out|(time|add)_embedding\.linear_[12])$`,
);
const LDM_UNET = /^(input_blocks|middle_block|output_blocks|out\.2$|time_embed\.|label_emb\.)/;
const TEXT_MODEL = /^text_model\.encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.fc[12])$/;

/**
 * `lora_unet_input_blocks_4_1_proj_in` → `{ component: 'unet', path: 'down_blocks.1.attentions.0.proj_in' }`.
 * `unetLayout` only matters for LDM names: sd-scripts writes them for SDXL; some tools write them for SD 1.x too.
 */
export function kohyaModulePath(name: string, unetLayout: UnetLayout = sdxlUnetLayout()): KohyaModulePath {
  const prefix = PREFIXES.find(([start]) => name.startsWith(start));
  if (!prefix) throw unknownModule(name, 'does not start with `lora_unet_`, `lora_te_`, `lora_te1_` or `lora_te2_`');
  const [start, component] = prefix;
  const dotted = splitWords(name.slice(start.length)).join('.');
  if (component !== 'unet') {
    const path = dotted.startsWith('text_model.') ? dotted : `text_model.${dotted}`;
    if (!TEXT_MODEL.test(path))
      throw unknownModule(name, 'is not a LoRA layer of a CLIP text encoder (q/k/v/out_proj, mlp.fc1/fc2)');
    return { component, path };
  }
  if (DIFFUSERS_UNET.test(dotted)) return { component, path: dotted, unetLayout: 'diffusers' };
  if (LDM_UNET.test(dotted))
    return { component, path: ldmToDiffusersPath(dotted, name, unetLayout), unetLayout: 'ldm' };
  throw unknownModule(name, 'is not a LoRA layer of an SD 1.x, SD 2.x or SDXL UNet');
}

function splitWords(rest: string): string[] {
  const words: string[] = [];
  let at = 0;
  while (at < rest.length) {
    const known = MULTI_WORD_NAMES.find(
      (word) => rest.startsWith(word, at) && (at + word.length === rest.length || rest[at + word.length] === '_'),
    );
    const end = known ? at + known.length : nextUnderscore(rest, at);
    words.push(rest.slice(at, end));
    at = end + 1;
  }
  return words;
}

function nextUnderscore(text: string, from: number): number {
  const at = text.indexOf('_', from);
  return at < 0 ? text.length : at;
}

// ComfyUI's own LoRA names (its LoraSave node; docs/formats/comfyui-lora-loading.md §2) are kohya names with dots.
const COMFY_PREFIXES: ReadonlyArray<readonly [string, string]> = [
  ['diffusion_model.', 'lora_unet_'],
  ['text_encoders.clip_l.transformer.', 'lora_te1_'],
  ['text_encoders.clip_h.transformer.', 'lora_te1_'],
  ['text_encoders.clip_g.transformer.', 'lora_te2_'],
];

/** `diffusion_model.input_blocks.4.1.proj_in` → `lora_unet_input_blocks_4_1_proj_in`; undefined for other names. */
export function comfyToKohyaName(name: string): string | undefined {
  const prefix = COMFY_PREFIXES.find(([start]) => name.startsWith(start));
  return prefix && `${prefix[1]}${name.slice(prefix[0].length).replaceAll('.', '_')}`;
}

/**
 * An LDM UNet path → the diffusers path, in the given block layout (SDXL with 2 layers per block unless told:
 * every real SDXL has 2; our tiny test models have 1). Mapped forward again, it must give the input back.
 */
export function ldmToDiffusersPath(ldm: string, culprit = ldm, layout: UnetLayout = sdxlUnetLayout()): string {
  const path = diffusersUnetPath(ldm, layout);
  const forward = path === undefined ? undefined : ldmUnetPath(path, layout);
  if (path === undefined || forward === undefined || !('ldm' in forward) || forward.ldm !== ldm) {
    throw unknownModule(culprit, `is not a LoRA layer of ${layout.name}`);
  }
  return path;
}

function unknownModule(name: string, problem: string): LoraFileError {
  return new LoraFileError(`module \`${name}\` ${problem}`, {
    code: 'unknown_module',
    culprit: name,
    hint: 'only LoRA layers of SD 1.x/2.x/SDXL UNets and CLIP text encoders can be converted',
  });
}

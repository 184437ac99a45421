// kohya module names → the diffusers module they adapt (the inverse of kohya-keys.ts). Pure.
// Underscores are ambiguous (`to_q`, `proj_in`, `transformer_blocks` hold one), so names are split against the
// vocabulary of multi-word names these models use, and the dotted result must match the module grammar.
import { sdxlLdmPath, type LoraComponent } from './kohya-keys.js';
import { LoraFileError } from './lora-file-error.js';

export interface KohyaModulePath {
  component: LoraComponent;
  /** The module's diffusers path inside its component; text encoders always carry `text_model.`. */
  path: string;
  /** `ldm` when the UNet part used sd-scripts' SDXL names (`input_blocks_4_1_…`). */
  unetLayout?: 'diffusers' | 'ldm';
}

// Every name inside SD/SDXL UNets and CLIP text encoders that contains an underscore, longest match wins.
const MULTI_WORD_NAMES = [
  'down_blocks', 'up_blocks', 'mid_block', 'transformer_blocks', 'proj_in', 'proj_out', 'to_q', 'to_k', 'to_v',
  'to_out', 'conv_in', 'conv_out', 'conv_shortcut', 'time_emb_proj', 'time_embedding', 'add_embedding', 'linear_1',
  'linear_2', 'input_blocks', 'middle_block', 'output_blocks', 'in_layers', 'out_layers', 'emb_layers',
  'skip_connection', 'time_embed', 'label_emb', 'text_model', 'self_attn', 'q_proj', 'k_proj', 'v_proj', 'out_proj',
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

/** `lora_unet_input_blocks_4_1_proj_in` → `{ component: 'unet', path: 'down_blocks.1.attentions.0.proj_in' }`. */
export function kohyaModulePath(name: string): KohyaModulePath {
  const prefix = PREFIXES.find(([start]) => name.startsWith(start));
  if (!prefix) throw unknownModule(name, 'does not start with `lora_unet_`, `lora_te_`, `lora_te1_` or `lora_te2_`');
  const [start, component] = prefix;
  const dotted = splitWords(name.slice(start.length)).join('.');
  if (component !== 'unet') {
    const path = dotted.startsWith('text_model.') ? dotted : `text_model.${dotted}`;
    if (!TEXT_MODEL.test(path)) throw unknownModule(name, 'is not a LoRA layer of a CLIP text encoder (q/k/v/out_proj, mlp.fc1/fc2)');
    return { component, path };
  }
  if (DIFFUSERS_UNET.test(dotted)) return { component, path: dotted, unetLayout: 'diffusers' };
  if (LDM_UNET.test(dotted)) return { component, path: ldmToDiffusersPath(dotted, name), unetLayout: 'ldm' };
  throw unknownModule(name, 'is not a LoRA layer of an SD 1.x, SD 2.x or SDXL UNet');
}

function splitWords(rest: string): string[] {
  const words: string[] = [];
  let at = 0;
  while (at < rest.length) {
    const known = MULTI_WORD_NAMES.find((word) => rest.startsWith(word, at) && (at + word.length === rest.length || rest[at + word.length] === '_'));
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

const FIXED_LDM: Readonly<Record<string, string>> = {
  'input_blocks.0.0': 'conv_in',
  'out.2': 'conv_out',
  'time_embed.0': 'time_embedding.linear_1',
  'time_embed.2': 'time_embedding.linear_2',
  'label_emb.0.0': 'add_embedding.linear_1',
  'label_emb.0.2': 'add_embedding.linear_2',
};

const RESNET_DIFFUSERS_NAMES: Readonly<Record<string, string>> = {
  'in_layers.2': 'conv1',
  'out_layers.3': 'conv2',
  'emb_layers.1': 'time_emb_proj',
  skip_connection: 'conv_shortcut',
};

// SDXL block layout (diffusers-peft-lora-format.md §4): which up blocks hold attentions decides slot 1's meaning.
const SDXL_UP_HAS_ATTENTION = [true, true, false];
const STRIDE = 3; // layers_per_block + 1, 2 layers per block in every SD/SDXL UNet

/**
 * sd-scripts' SDXL (LDM) UNet path → the diffusers path. The result is mapped forward again with sdxlLdmPath and
 * must give the input back, so the two directions cannot drift apart and impossible slots are rejected.
 */
export function ldmToDiffusersPath(ldm: string, culprit = ldm): string {
  const path = FIXED_LDM[ldm] ?? blockPath(ldm);
  let forward: string | undefined;
  try {
    forward = path === undefined ? undefined : sdxlLdmPath(path, 2, culprit);
  } catch {
    forward = undefined;
  }
  if (path === undefined || forward !== ldm) throw unknownModule(culprit, 'is not a LoRA layer of an SDXL UNet');
  return path;
}

function blockPath(ldm: string): string | undefined {
  const input = /^input_blocks\.(\d+)\.([01])\.(.+)$/.exec(ldm);
  if (input) {
    const n = Number(input[1]);
    const [block, layer] = [Math.floor((n - 1) / STRIDE), (n - 1) % STRIDE];
    if (layer === STRIDE - 1) return input[3] === 'op' ? `down_blocks.${n / STRIDE - 1}.downsamplers.0.conv` : undefined;
    return input[2] === '1' ? `down_blocks.${block}.attentions.${layer}.${input[3]}` : resnetPath(`down_blocks.${block}`, layer, input[3]);
  }
  const middle = /^middle_block\.([012])\.(.+)$/.exec(ldm);
  if (middle) return middle[1] === '1' ? `mid_block.attentions.0.${middle[2]}` : resnetPath('mid_block', Number(middle[1]) / 2, middle[2]);
  const output = /^output_blocks\.(\d+)\.([012])\.(.+)$/.exec(ldm);
  if (output) {
    const n = Number(output[1]);
    const [block, layer, slot, rest] = [Math.floor(n / STRIDE), n % STRIDE, output[2], output[3] ?? ''];
    const isUpsampler = slot === '2' || (slot === '1' && !SDXL_UP_HAS_ATTENTION[block]);
    if (isUpsampler) return rest === 'conv' ? `up_blocks.${block}.upsamplers.0.conv` : undefined;
    return slot === '1' ? `up_blocks.${block}.attentions.${layer}.${rest}` : resnetPath(`up_blocks.${block}`, layer, rest);
  }
  return undefined;
}

function resnetPath(block: string, layer: number, ldmName: string | undefined): string | undefined {
  const name = RESNET_DIFFUSERS_NAMES[ldmName ?? ''];
  return name === undefined ? undefined : `${block}.resnets.${layer}.${name}`;
}

function unknownModule(name: string, problem: string): LoraFileError {
  return new LoraFileError(`module \`${name}\` ${problem}`, {
    code: 'unknown_module',
    culprit: name,
    hint: 'only LoRA layers of SD 1.x/2.x/SDXL UNets and CLIP text encoders can be converted',
  });
}

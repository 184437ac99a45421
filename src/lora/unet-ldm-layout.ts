// The one map between diffusers UNet module paths and the original LDM/sgm layout of single-file checkpoints, in
// both directions, for any SD 1.x/2.x/SDXL-shaped UNet (docs/formats/diffusers-peft-lora.md §4). Pure.

/** What decides the LDM numbering: layers per block and which levels hold attentions. */
export interface UnetLayout {
  /** For messages: "an SDXL UNet". */
  name: string;
  layersPerBlock: number;
  /** One entry per down level (up levels mirror them): does the level hold Transformer2D blocks? */
  downHasAttention: readonly boolean[];
  upHasAttention: readonly boolean[];
}

export const SD_UNET_LAYOUT: UnetLayout = {
  name: 'an SD 1.x/2.x UNet',
  layersPerBlock: 2,
  downHasAttention: [true, true, true, false],
  upHasAttention: [false, true, true, true],
};

export function sdxlUnetLayout(layersPerBlock = 2): UnetLayout {
  return {
    name: 'an SDXL UNet',
    layersPerBlock,
    downHasAttention: [false, true, true],
    upHasAttention: [true, true, false],
  };
}

export type LdmPathResult = { ldm: string } | { problem: string };

const RESNET_LDM_NAMES: Readonly<Record<string, string>> = {
  conv1: 'in_layers.2',
  conv2: 'out_layers.3',
  time_emb_proj: 'emb_layers.1',
  conv_shortcut: 'skip_connection',
};
const RESNET_DIFFUSERS_NAMES = Object.fromEntries(Object.entries(RESNET_LDM_NAMES).map(([d, l]) => [l, d]));
const RESNET_PROBLEM = 'not a LoRA-adaptable layer of a ResNet block (conv1, conv2, time_emb_proj, conv_shortcut)';

const FIXED_LDM_NAMES: Readonly<Record<string, string>> = {
  conv_in: 'input_blocks.0.0',
  conv_out: 'out.2',
  'time_embedding.linear_1': 'time_embed.0',
  'time_embedding.linear_2': 'time_embed.2',
  'add_embedding.linear_1': 'label_emb.0.0',
  'add_embedding.linear_2': 'label_emb.0.2',
};
const FIXED_DIFFUSERS_NAMES = Object.fromEntries(Object.entries(FIXED_LDM_NAMES).map(([d, l]) => [l, d]));

/** diffusers module path (`down_blocks.1.attentions.0.proj_in`) → LDM path (`input_blocks.4.1.proj_in`). */
export function ldmUnetPath(path: string, layout: UnetLayout): LdmPathResult {
  const notInUnet = { problem: `not a module of ${layout.name}` };
  const stride = layout.layersPerBlock + 1;
  const fixed = FIXED_LDM_NAMES[path];
  if (fixed !== undefined) return { ldm: fixed };
  const block = /^(down_blocks|up_blocks)\.(\d+)\.(resnets|attentions)\.(\d+)\.(.+)$/.exec(path);
  if (block) {
    const [, side, i = '', kind, j = '', rest = ''] = block;
    const isDown = side === 'down_blocks';
    if (!isInLayout(layout, isDown, Number(i), kind === 'attentions', Number(j))) return notInUnet;
    const index = isDown ? stride * Number(i) + Number(j) + 1 : stride * Number(i) + Number(j);
    const inner = kind === 'attentions' ? `1.${rest}` : RESNET_LDM_NAMES[rest] && `0.${RESNET_LDM_NAMES[rest]}`;
    if (!inner) return { problem: RESNET_PROBLEM };
    return { ldm: `${isDown ? 'input_blocks' : 'output_blocks'}.${index}.${inner}` };
  }
  const sampler = /^(down_blocks|up_blocks)\.(\d+)\.(downsamplers|upsamplers)\.0\.conv$/.exec(path);
  if (sampler) {
    const level = Number(sampler[2]);
    // The last down level has no downsampler and the last up level no upsampler.
    if (level >= layout.downHasAttention.length - 1) return notInUnet;
    if (sampler[1] === 'down_blocks') return { ldm: `input_blocks.${stride * (level + 1)}.0.op` };
    // The upsampler follows the level's last resnet (slot 0) and its attention (slot 1) when it has one.
    return { ldm: `output_blocks.${stride * level + stride - 1}.${layout.upHasAttention[level] ? 2 : 1}.conv` };
  }
  const mid = /^mid_block\.(resnets\.([01])|attentions\.0)\.(.+)$/.exec(path);
  if (mid) {
    const rest = mid[3] ?? '';
    if (mid[2] === undefined) return { ldm: `middle_block.1.${rest}` };
    const resnet = RESNET_LDM_NAMES[rest];
    return resnet ? { ldm: `middle_block.${2 * Number(mid[2])}.${resnet}` } : { problem: RESNET_PROBLEM };
  }
  return notInUnet;
}

function isInLayout(layout: UnetLayout, isDown: boolean, level: number, isAttention: boolean, layer: number): boolean {
  const hasAttention = (isDown ? layout.downHasAttention : layout.upHasAttention)[level];
  // Up levels have one layer more than down levels: the extra one takes the skip connection.
  const layers = isDown ? layout.layersPerBlock : layout.layersPerBlock + 1;
  return hasAttention !== undefined && (!isAttention || hasAttention) && layer < layers;
}

/**
 * LDM module path → diffusers module path, or undefined for LDM modules no LoRA adapts (norms, `out.0`).
 * The inverse of ldmUnetPath (tested as such).
 */
export function diffusersUnetPath(ldm: string, layout: UnetLayout): string | undefined {
  const fixed = FIXED_DIFFUSERS_NAMES[ldm];
  if (fixed !== undefined) return fixed;
  const stride = layout.layersPerBlock + 1;
  const input = /^input_blocks\.(\d+)\.([01])\.(.+)$/.exec(ldm);
  if (input) {
    const [n, slot, rest] = [Number(input[1]), input[2], input[3] ?? ''];
    if (n % stride === 0)
      return slot === '0' && rest === 'op' ? `down_blocks.${n / stride - 1}.downsamplers.0.conv` : undefined;
    const [level, layer] = [Math.floor((n - 1) / stride), (n - 1) % stride];
    if (slot === '1' && !layout.downHasAttention[level]) return undefined;
    return blockPath('down_blocks', level, layer, slot, rest);
  }
  const output = /^output_blocks\.(\d+)\.([012])\.(.+)$/.exec(ldm);
  if (output) {
    const [n, slot, rest] = [Number(output[1]), output[2], output[3] ?? ''];
    const [level, layer] = [Math.floor(n / stride), n % stride];
    const upsamplerSlot = layout.upHasAttention[level] ? '2' : '1';
    if (slot === upsamplerSlot && rest === 'conv' && layer === stride - 1)
      return `up_blocks.${level}.upsamplers.0.conv`;
    if (slot === '2' || (slot === '1' && !layout.upHasAttention[level])) return undefined;
    return blockPath('up_blocks', level, layer, slot, rest);
  }
  const mid = /^middle_block\.([012])\.(.+)$/.exec(ldm);
  if (mid) {
    const rest = mid[2] ?? '';
    if (mid[1] === '1') return `mid_block.attentions.0.${rest}`;
    const resnet = RESNET_DIFFUSERS_NAMES[rest];
    return resnet && `mid_block.resnets.${Number(mid[1]) / 2}.${resnet}`;
  }
  return undefined;
}

function blockPath(
  side: string,
  level: number,
  layer: number,
  slot: string | undefined,
  rest: string,
): string | undefined {
  if (slot === '1') return `${side}.${level}.attentions.${layer}.${rest}`;
  const resnet = RESNET_DIFFUSERS_NAMES[rest];
  return resnet && `${side}.${level}.resnets.${layer}.${resnet}`;
}

/**
 * The layout of the UNet whose LDM module paths are given (a checkpoint's keys without `model.diffusion_model.`):
 * real checkpoints carry no config, and tiny test models differ from SD 1.5 in levels and layers per block.
 */
export function inferUnetLayout(ldmKeys: readonly string[], name: string): UnetLayout {
  const inputIndices = indicesOf(ldmKeys, /^input_blocks\.(\d+)\./);
  const downsamplers = indicesOf(ldmKeys, /^input_blocks\.(\d+)\.0\.op\./);
  const inputCount = Math.max(0, ...inputIndices) + 1;
  // input_blocks: conv_in, then per level `layersPerBlock` layers and a downsampler (none after the last level).
  const stride = downsamplers.length > 0 ? Math.min(...downsamplers) : inputCount;
  const levels = Math.round(inputCount / stride);
  const attentionInputs = new Set(indicesOf(ldmKeys, /^input_blocks\.(\d+)\.1\./));
  const attentionOutputs = new Set(indicesOf(ldmKeys, /^output_blocks\.(\d+)\.1\.(?!conv\.)/));
  const range = [...Array(levels).keys()];
  return {
    name,
    layersPerBlock: stride - 1,
    downHasAttention: range.map((level) => attentionInputs.has(stride * level + 1)),
    upHasAttention: range.map((level) => attentionOutputs.has(stride * level)),
  };
}

function indicesOf(keys: readonly string[], pattern: RegExp): number[] {
  const found = new Set<number>();
  for (const key of keys) {
    const match = pattern.exec(key);
    if (match) found.add(Number(match[1]));
  }
  return [...found];
}

// Which weight of a single-file SD checkpoint each kohya LoRA module changes, from the checkpoint's own keys (as
// A1111 and ComfyUI do: enumerate the model, name its modules the kohya way, look the LoRA's names up). Pure.
// The family comes from the caller (src/checkpoint's verdict, the one place that tells families apart).
import type { BaseFamily } from './kohya-keys.js';
import type { TensorInfo } from './safetensors.js';
import { diffusersUnetPath, inferUnetLayout, type UnetLayout } from './unet-ldm-layout.js';

/** A checkpoint weight, or the row range of one (OpenCLIP fuses q, k, v into `in_proj_weight`). */
export interface MergeTarget {
  key: string;
  rows?: readonly [begin: number, end: number];
}

export interface CheckpointTargets {
  family: BaseFamily;
  unetLayout: UnetLayout;
  /** kohya module name → target. UNet modules answer to both their LDM and their diffusers spelling. */
  targets: Map<string, MergeTarget>;
}

const UNET_PREFIX = 'model.diffusion_model.';

type TextLayout = 'hf' | 'openclip';
// Same prefixes as engine/lora_scripts_engine/single_file.py TEXT_ENCODER_LAYOUTS, with their kohya prefixes.
const TEXT_ENCODERS: Record<
  BaseFamily,
  ReadonlyArray<readonly [prefix: string, layout: TextLayout, kohya: readonly string[]]>
> = {
  // diffusers' convert_state_dict_to_kohya names the one SD 1.x/2.x text encoder `lora_te1_`; accept that too.
  sd1: [['cond_stage_model.transformer.', 'hf', ['lora_te', 'lora_te1']]],
  sd2: [['cond_stage_model.model.', 'openclip', ['lora_te', 'lora_te1']]],
  sdxl: [
    ['conditioner.embedders.0.transformer.', 'hf', ['lora_te1']],
    ['conditioner.embedders.1.model.', 'openclip', ['lora_te2']],
  ],
};

const FAMILY_NAMES: Record<BaseFamily, string> = { sd1: 'SD 1.x', sd2: 'SD 2.x', sdxl: 'SDXL' };

export function familyName(family: BaseFamily): string {
  return FAMILY_NAMES[family];
}

/** Every LoRA target in a checkpoint of `family` (src/checkpoint's verdict on the same file). */
export function checkpointTargets(tensors: ReadonlyMap<string, TensorInfo>, family: BaseFamily): CheckpointTargets {
  const keys = [...tensors.keys()];
  const ldmKeys = keys.filter((key) => key.startsWith(UNET_PREFIX)).map((key) => key.slice(UNET_PREFIX.length));
  const unetLayout = inferUnetLayout(ldmKeys, family === 'sdxl' ? 'an SDXL UNet' : 'an SD 1.x/2.x UNet');
  const targets = new Map<string, MergeTarget>();
  for (const ldm of ldmKeys) {
    if (!ldm.endsWith('.weight')) continue;
    const module = ldm.slice(0, -'.weight'.length);
    const key = UNET_PREFIX + ldm;
    targets.set(`lora_unet_${underscored(module)}`, { key });
    const diffusers = diffusersUnetPath(module, unetLayout);
    if (diffusers !== undefined) targets.set(`lora_unet_${underscored(diffusers)}`, { key });
  }
  for (const [prefix, layout, kohyaPrefixes] of TEXT_ENCODERS[family]) {
    for (const key of keys.filter((k) => k.startsWith(prefix))) {
      const found =
        layout === 'hf'
          ? hfTargets(key, key.slice(prefix.length))
          : openClipTargets(key, key.slice(prefix.length), tensors.get(key)!);
      for (const [path, target] of found)
        for (const kohya of kohyaPrefixes) targets.set(`${kohya}_${underscored(path)}`, target);
    }
  }
  return { family, unetLayout, targets };
}

/** transformers-layout CLIP: `text_model.encoder.layers.N.self_attn.q_proj.weight` and friends keep their names. */
function hfTargets(key: string, path: string): Array<[string, MergeTarget]> {
  if (!path.endsWith('.weight')) return [];
  const module = path.slice(0, -'.weight'.length);
  // Some exporters drop the `text_model.` wrapper (transformers ≥ 5 flattens it); kohya names always carry it.
  return [[module.startsWith('text_model.') ? module : `text_model.${module}`, { key }]];
}

const OPENCLIP_LAYER_NAMES: Readonly<Record<string, string>> = {
  'attn.out_proj.weight': 'self_attn.out_proj',
  'mlp.c_fc.weight': 'mlp.fc1',
  'mlp.c_proj.weight': 'mlp.fc2',
};

/** OpenCLIP layout (SD 2.x, SDXL's second encoder): fused q/k/v rows, renamed out_proj and MLP. */
function openClipTargets(key: string, path: string, info: TensorInfo): Array<[string, MergeTarget]> {
  const layer = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(path);
  if (!layer) return [];
  const hfLayer = `text_model.encoder.layers.${layer[1]}`;
  const rest = layer[2] ?? '';
  if (rest === 'attn.in_proj_weight') {
    const width = (info.shape[0] ?? 0) / 3;
    return (['q_proj', 'k_proj', 'v_proj'] as const).map((name, i) => [
      `${hfLayer}.self_attn.${name}`,
      { key, rows: [i * width, (i + 1) * width] },
    ]);
  }
  const renamed = OPENCLIP_LAYER_NAMES[rest];
  return renamed ? [[`${hfLayer}.${renamed}`, { key }]] : [];
}

const underscored = (path: string) => path.replaceAll('.', '_');

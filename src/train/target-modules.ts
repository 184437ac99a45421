// Turns the names users write in `target_modules` into module-name suffixes for the UNet and the text encoder(s).
// Pure. The engine matches the suffixes against the real model and reports how many layers each entry found.
import { TARGET_PRESETS, type TargetPreset } from '../config/index.js';
import { ConfigError } from '../errors.js';

/** One `target_modules` entry and the suffixes it stands for in each model part. */
export interface TargetEntry {
  /** The entry as written, e.g. `q_proj` or `attention+ff`. */
  name: string;
  unet: string[];
  text_encoder: string[];
}

const UNET_ATTENTION = ['to_q', 'to_k', 'to_v', 'to_out.0'];
const TE_ATTENTION = ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.out_proj'];
// kohya's default network also adapts the Transformer2D projections; they sit beside the feed-forward layers.
const UNET_FF = ['ff.net.0.proj', 'ff.net.2', 'proj_in', 'proj_out'];
const TE_FF = ['mlp.fc1', 'mlp.fc2'];
// "LoCon": the ResNet and resampling convolutions, where much of a picture's texture lives.
const UNET_CONV = ['conv1', 'conv2', 'conv_shortcut', 'time_emb_proj', 'downsamplers.0.conv', 'upsamplers.0.conv'];

const entry = (unet: string[], textEncoder: string[]) => ({ unet, text_encoder: textEncoder });

type Suffixes = { unet: string[]; text_encoder: string[] };

/** Every preset the schema lists (config/schema.ts TARGET_PRESETS): a preset without suffixes does not compile. */
const PRESET_TARGETS: Record<TargetPreset, Suffixes> = {
  attention: entry(UNET_ATTENTION, TE_ATTENTION),
  'attention+ff': entry([...UNET_ATTENTION, ...UNET_FF], [...TE_ATTENTION, ...TE_FF]),
  'attention+ff+conv': entry([...UNET_ATTENTION, ...UNET_FF, ...UNET_CONV], [...TE_ATTENTION, ...TE_FF]),
  all: entry([...UNET_ATTENTION, ...UNET_FF, ...UNET_CONV], [...TE_ATTENTION, ...TE_FF]),
};

/** Known names; anything else is passed through as a raw module-name suffix for both parts. */
const KNOWN_TARGETS: Record<string, Suffixes> = {
  ...PRESET_TARGETS,
  q_proj: entry(['to_q'], ['self_attn.q_proj']),
  k_proj: entry(['to_k'], ['self_attn.k_proj']),
  v_proj: entry(['to_v'], ['self_attn.v_proj']),
  out_proj: entry(['to_out.0'], ['self_attn.out_proj']),
  to_q: entry(['to_q'], ['self_attn.q_proj']),
  to_k: entry(['to_k'], ['self_attn.k_proj']),
  to_v: entry(['to_v'], ['self_attn.v_proj']),
  to_out: entry(['to_out.0'], ['self_attn.out_proj']),
  'to_out.0': entry(['to_out.0'], ['self_attn.out_proj']),
  ff: entry(['ff.net.0.proj', 'ff.net.2'], TE_FF),
  mlp: entry(['ff.net.0.proj', 'ff.net.2'], TE_FF),
  conv: entry(UNET_CONV, []),
};

const MODULE_NAME = /^[A-Za-z_][\w]*(\.[\w]+)*$/;

export function resolveTargetModules(names: string[]): TargetEntry[] {
  return names.map((raw, index) => {
    const name = raw.trim();
    const known = KNOWN_TARGETS[name];
    if (known) return { name, ...known };
    if (!MODULE_NAME.test(name)) {
      throw new ConfigError(`\`${raw}\` is not a preset or a module name`, {
        code: 'invalid_value',
        culprit: `target_modules[${index}]`,
        hint: `use a preset (${TARGET_PRESETS.join(', ')}) or layer names such as to_q, q_proj, ff.net.2`,
      });
    }
    return { name, unet: [name], text_encoder: [name] };
  });
}

// LoHa / LoKr / DoRA modules → the LyCORIS file A1111 and ComfyUI load: `<kohya name>.<part>` tensors, an
// `.alpha` each, DoRA's `dora_scale`, and the `ss_network_module` / `ss_network_args` LyCORIS writes. Pure.
// Factor bytes are shared, not re-encoded, except one case: a LoKr module with two full factors, which consumers
// apply at scale 1, gets peft's alpha / r folded into `lokr_w1` (as LyCORIS itself does; docs/formats/lycoris.md §2).
import { alphaTensor, type AlphaDtype } from './alpha-tensor.js';
import { decodeFloats, encodeFloats, type FloatDtype } from './float-codec.js';
import type { LycorisModule, LycorisModuleSet, NetworkType } from './lycoris-modules.js';
import { pythonFloatString, pythonJsonDumps } from './python-format.js';
import type { Tensor } from './safetensors.js';

export interface LycorisKohyaContent {
  tensors: Map<string, Tensor>;
  /** `ss_network_module`, `ss_network_args` (and `ss_network_dim`/`ss_network_alpha` when every module agrees). */
  metadata: Record<string, string>;
}

/** LyCORIS' `algo` names (its `network_args`); DoRA is LoRA with `dora_wd`. */
const ALGO: Readonly<Record<NetworkType, string>> = { lora: 'lora', dora: 'lora', loha: 'loha', lokr: 'lokr' };

export function lycorisToKohya(
  set: LycorisModuleSet,
  options: { alphaDtype?: AlphaDtype; culprit: string },
): LycorisKohyaContent {
  const tensors = new Map<string, Tensor>();
  for (const module of set.modules) {
    const foldsScale = module.kind === 'lokr' && module.factors.has('lokr_w1') && module.factors.has('lokr_w2');
    for (const [part, tensor] of module.factors) {
      const written = foldsScale && part === 'lokr_w1' ? scaled(tensor, module.scale) : tensor;
      tensors.set(`${module.kohyaName}.${part}`, written);
    }
    if (module.doraScale) tensors.set(`${module.kohyaName}.dora_scale`, module.doraScale);
    tensors.set(
      `${module.kohyaName}.alpha`,
      module.alphaTensor ?? alphaTensor(writtenAlpha(module, foldsScale), options.alphaDtype ?? 'F32', options.culprit),
    );
  }
  return { tensors, metadata: networkMetadata(set) };
}

/** The alpha a consumer divides by the module's rank to get peft's scale; for a folded LoKr, the rank (LyCORIS). */
function writtenAlpha(module: LycorisModule, foldsScale: boolean): number {
  if (foldsScale) return module.rank ?? 1;
  return module.alpha ?? module.rank ?? 1;
}

function scaled(tensor: Tensor, scale: number): Tensor {
  const dtype = tensor.dtype as FloatDtype; // lycoris-modules.ts accepts F32, F16 and BF16 only
  const values = decodeFloats(dtype, tensor.data).map((v) => v * scale);
  return { dtype, shape: tensor.shape, data: encodeFloats(dtype, values) };
}

/** What LyCORIS' kohya wrapper records, so A1111's and kohya's metadata readers name the network. */
export function networkMetadata(set: LycorisModuleSet): Record<string, string> {
  const args: Record<string, string> = { algo: ALGO[set.network] };
  if (set.network === 'dora') args.dora_wd = 'True';
  const ranks = new Set(set.modules.map((m) => m.rank));
  const alphas = new Set(set.modules.map((m) => m.alpha));
  const [rank] = ranks;
  const [alpha] = alphas;
  return {
    ss_network_module: 'lycoris.kohya',
    ss_network_args: pythonJsonDumps(args),
    ...(ranks.size === 1 && rank !== undefined ? { ss_network_dim: String(rank) } : {}),
    ...(alphas.size === 1 && alpha !== undefined ? { ss_network_alpha: pythonFloatString(alpha) } : {}),
  };
}

// `resize` and `combine` on decoded LoRA modules: new factors with the scale folded in (alpha = new rank, so
// alpha/rank = 1) and the energy each kept. Pure; rank-files.ts reads and writes the files.
import { encodeFloats, type FloatDtype } from './float-codec.js';
import type { LoraFactors } from './lora-factors.js';
import { LoraFileError } from './lora-file-error.js';
import { keptEnergy, lowRankSvd, rankForEnergy, truncatedFactors, type Matrix } from './low-rank.js';
import type { Tensor } from './safetensors.js';

/** A module after the edit: ΔW = up@down exactly (alpha equals its rank). */
export interface EditedModule {
  name: string;
  up: Matrix;
  down: Matrix;
  /** `lora_down.weight`'s shape after the rank: [in] or [in, kh, kw]. */
  downTail: readonly number[];
  isConv: boolean;
}

export interface RankReport {
  name: string;
  fromRank: number;
  toRank: number;
  /** Σ kept σ² / Σ σ² of this module's ΔW. */
  energy: number;
}

export interface RankTarget {
  /** At most this rank per module. */
  rank?: number;
  /** The smallest rank keeping this share of ‖ΔW‖² (0 < energy ≤ 1). */
  energy?: number;
}

/** Lower each module's rank by SVD of ΔW = (α/r)·up@down, as asked by `target`. */
export function resizeModules(
  modules: readonly LoraFactors[],
  target: RankTarget,
): { modules: EditedModule[]; report: RankReport[] } {
  const edited: EditedModule[] = [];
  const report: RankReport[] = [];
  for (const module of modules) {
    const { result, line } = truncate(
      asEdited(module, module.up, module.down),
      module.alpha / module.rank,
      module.rank,
      target,
    );
    edited.push(result);
    report.push(line);
  }
  return { modules: edited, report };
}

function truncate(
  module: EditedModule,
  scale: number,
  fromRank: number,
  target: RankTarget,
): { result: EditedModule; line: RankReport } {
  const svd = lowRankSvd(module.up, module.down, scale);
  let rank = Math.min(target.rank ?? fromRank, fromRank);
  if (target.energy !== undefined) rank = Math.min(rank, rankForEnergy(svd.sigma, target.energy));
  const { up, down } = truncatedFactors(svd, rank);
  return {
    result: { ...module, up, down },
    line: { name: module.name, fromRank, toRank: rank, energy: keptEnergy(svd.sigma, rank) },
  };
}

export interface WeightedModules {
  fileName: string;
  weight: number;
  modules: readonly LoraFactors[];
}

/**
 * One LoRA whose ΔW is Σ wᵢ·(αᵢ/rᵢ)·upᵢ@downᵢ per module: downs stacked, ups side by side, each term's scale split
 * as √|c| on both factors (its sign on up), so the sum is exact. With `target`, each module is then cut by SVD.
 */
export function combineModules(
  loras: readonly WeightedModules[],
  target?: RankTarget,
): { modules: EditedModule[]; report: RankReport[] } {
  const byName = new Map<string, Array<{ module: LoraFactors; weight: number; fileName: string }>>();
  for (const { fileName, weight, modules } of loras) {
    for (const module of modules)
      byName.set(module.name, [...(byName.get(module.name) ?? []), { module, weight, fileName }]);
  }
  const edited: EditedModule[] = [];
  const report: RankReport[] = [];
  for (const [name, parts] of byName) {
    const stacked = stack(name, parts);
    const fromRank = stacked.down.rows;
    if (target === undefined) {
      edited.push(stacked);
      report.push({ name, fromRank, toRank: fromRank, energy: 1 });
    } else {
      const { result, line } = truncate(stacked, 1, fromRank, target);
      edited.push(result);
      report.push(line);
    }
  }
  return { modules: edited, report };
}

function stack(
  name: string,
  parts: ReadonlyArray<{ module: LoraFactors; weight: number; fileName: string }>,
): EditedModule {
  const first = parts[0]!.module;
  for (const { module, fileName } of parts) {
    if (
      module.up.rows !== first.up.rows ||
      JSON.stringify(module.downShape.slice(1)) !== JSON.stringify(first.downShape.slice(1))
    ) {
      throw new LoraFileError(
        `module \`${name}\` is ${module.up.rows}×${JSON.stringify(module.downShape.slice(1))} here but ${first.up.rows}×${JSON.stringify(first.downShape.slice(1))} in \`${parts[0]!.fileName}\``,
        { code: 'lora_shape_mismatch', culprit: fileName, hint: 'combine only LoRAs made for the same base model' },
      );
    }
  }
  const rank = parts.reduce((n, { module }) => n + module.rank, 0);
  const out = first.up.rows;
  const cols = first.down.cols;
  const up = new Float32Array(out * rank);
  const down = new Float32Array(rank * cols);
  let offset = 0;
  for (const { module, weight } of parts) {
    const c = (weight * module.alpha) / module.rank;
    const root = Math.sqrt(Math.abs(c));
    const upScale = c < 0 ? -root : root;
    for (let i = 0; i < out; i++) {
      for (let t = 0; t < module.rank; t++) up[i * rank + offset + t] = upScale * module.up.data[i * module.rank + t]!;
    }
    for (let k = 0; k < module.down.data.length; k++) down[offset * cols + k] = root * module.down.data[k]!;
    offset += module.rank;
  }
  return asEdited(first, { rows: out, cols: rank, data: up }, { rows: rank, cols, data: down });
}

function asEdited(module: LoraFactors, up: Matrix, down: Matrix): EditedModule {
  return { name: module.name, up, down, downTail: module.downShape.slice(1), isConv: module.downShape.length === 4 };
}

/** kohya tensors (`lora_down.weight`, `lora_up.weight`, `.alpha` = rank as F32) of edited modules. */
export function editedModulesToTensors(modules: readonly EditedModule[], dtype: FloatDtype): Map<string, Tensor> {
  const tensors = new Map<string, Tensor>();
  for (const { name, up, down, downTail, isConv } of modules) {
    const rank = down.rows;
    tensors.set(`${name}.lora_down.weight`, {
      dtype,
      shape: [rank, ...downTail],
      data: encodeFloats(dtype, down.data),
    });
    tensors.set(`${name}.lora_up.weight`, {
      dtype,
      shape: isConv ? [up.rows, rank, 1, 1] : [up.rows, rank],
      data: encodeFloats(dtype, up.data),
    });
    tensors.set(`${name}.alpha`, { dtype: 'F32', shape: [], data: new Uint8Array(Float32Array.of(rank).buffer) });
  }
  return tensors;
}

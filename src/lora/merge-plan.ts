// Which checkpoint tensors a merge changes, and by what: W' = W + Σ wᵢ·(αᵢ/rᵢ)·upᵢ@downᵢ per target. Pure; every
// mismatch (a module the base does not have, a wrong width, another family) is an error naming the module.
import { familyName, type CheckpointTargets } from './checkpoint-targets.js';
import { isFloatDtype } from './float-codec.js';
import type { BaseFamily } from './kohya-keys.js';
import type { LoraFactors } from './lora-factors.js';
import { LoraFileError } from './lora-file-error.js';
import type { Matrix } from './low-rank.js';
import type { Magnitude } from './lycoris-delta.js';
import type { TensorInfo } from './safetensors.js';

export interface LoraToMerge {
  fileName: string;
  weight: number;
  modules: readonly LoraFactors[];
  /** LoHa / LoKr / DoRA modules, as their full weight change (lycoris-merge.ts). */
  dense?: readonly DenseFactors[];
  /** The family the file's names and widths show, when they show one (lora-format.ts detectFamily). */
  family?: BaseFamily;
  familyBasis?: string;
  /** `sshs_model_hash` from the LoRA's metadata, recorded in the merged checkpoint when present. */
  modelHash?: string;
}

/** A module whose weight change is not an up·down pair: ΔW itself (already × its own scale), and DoRA's magnitude. */
export interface DenseFactors {
  name: string;
  lookupName: string;
  delta: Matrix;
  magnitude?: Magnitude;
}

/** One LoRA module's term in a checkpoint tensor: scale·up@down added from row `rowOffset` on. */
export interface LowRankContribution {
  up: Matrix;
  down: Matrix;
  scale: number;
  rowOffset: number;
}

/** A LoHa / LoKr / DoRA term: strength·ΔW, or for DoRA the re-normed W + ΔW (lycoris-delta.ts addDelta). */
export interface DenseContribution {
  delta: Matrix;
  strength: number;
  rowOffset: number;
  magnitude?: Magnitude;
}

export type Contribution = LowRankContribution | DenseContribution;

const WRONG_BASE_HINT = 'merge a LoRA into the base model family it was trained on (SD 1.x, SD 2.x or SDXL)';

/** Checkpoint key → its contributions, in the order the LoRAs were given. */
export function planMerge(
  checkpoint: CheckpointTargets,
  tensors: ReadonlyMap<string, TensorInfo>,
  loras: readonly LoraToMerge[],
  checkpointFile: string,
): Map<string, Contribution[]> {
  const plan = new Map<string, Contribution[]>();
  for (const lora of loras) {
    checkFamily(lora, checkpoint, checkpointFile);
    for (const module of lora.modules) {
      const target = checkpoint.targets.get(module.lookupName);
      if (!target) {
        throw new LoraFileError(
          `module \`${module.name}\` matches no weight of \`${checkpointFile}\` (${familyName(checkpoint.family)})`,
          { code: 'module_not_in_base', culprit: lora.fileName, hint: WRONG_BASE_HINT },
        );
      }
      const info = tensors.get(target.key)!;
      checkShape(module, target.key, info, target.rows, lora.fileName);
      const contributions = plan.get(target.key) ?? [];
      contributions.push({
        up: module.up,
        down: module.down,
        scale: (lora.weight * module.alpha) / module.rank,
        rowOffset: target.rows?.[0] ?? 0,
      });
      plan.set(target.key, contributions);
    }
    for (const module of lora.dense ?? []) {
      const target = checkpoint.targets.get(module.lookupName);
      if (!target) {
        throw new LoraFileError(
          `module \`${module.name}\` matches no weight of \`${checkpointFile}\` (${familyName(checkpoint.family)})`,
          { code: 'module_not_in_base', culprit: lora.fileName, hint: WRONG_BASE_HINT },
        );
      }
      const info = tensors.get(target.key)!;
      const changeShape = { name: module.name, up: { rows: module.delta.rows }, down: { cols: module.delta.cols } };
      checkShape(changeShape, target.key, info, target.rows, lora.fileName);
      const contributions = plan.get(target.key) ?? [];
      const { delta, magnitude } = module;
      contributions.push({ delta, strength: lora.weight, rowOffset: target.rows?.[0] ?? 0, magnitude });
      plan.set(target.key, contributions);
    }
  }
  return plan;
}

function checkFamily(lora: LoraToMerge, checkpoint: CheckpointTargets, checkpointFile: string): void {
  if (lora.family === undefined || lora.family === checkpoint.family) return;
  const basis = lora.familyBasis ? ` (${lora.familyBasis})` : '';
  throw new LoraFileError(
    `is a LoRA for ${familyName(lora.family)}${basis}, but \`${checkpointFile}\` is an ${familyName(checkpoint.family)} checkpoint`,
    { code: 'lora_family_mismatch', culprit: lora.fileName, hint: WRONG_BASE_HINT },
  );
}

function checkShape(
  module: { name: string; up: { rows: number }; down: { cols: number } },
  key: string,
  info: TensorInfo,
  rows: readonly [number, number] | undefined,
  fileName: string,
): void {
  const [out = 0, ...rest] = info.shape;
  const targetRows = rows ? rows[1] - rows[0] : out;
  const targetCols = rest.reduce((n, d) => n * d, 1);
  if (module.up.rows !== targetRows || module.down.cols !== targetCols) {
    const shape = rows ? `rows ${rows[0]}–${rows[1]} of ${JSON.stringify(info.shape)}` : JSON.stringify(info.shape);
    throw new LoraFileError(
      `module \`${module.name}\` makes a ${module.up.rows}×${module.down.cols} change, but \`${key}\` is ${shape}`,
      { code: 'lora_shape_mismatch', culprit: fileName, hint: WRONG_BASE_HINT },
    );
  }
  if (!isFloatDtype(info.dtype)) {
    throw new LoraFileError(`\`${key}\` is ${info.dtype}; only F32, F16 and BF16 weights can take a LoRA`, {
      code: 'unsupported_dtype',
      culprit: fileName,
    });
  }
}

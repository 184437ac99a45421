// A verdict → a base model the commands can use, or the one-line error that says what the file is instead; and the
// facts the engine is handed so it only loads (engine models.py trusts them). Pure.
import { CheckpointError } from '../errors.js';
import type { CheckpointVerdict, ModelFamily, PredictionType } from './verdict.js';

export type BaseModelVerdict = CheckpointVerdict & { kind: 'base'; problem: null };

export interface BaseModelUse {
  /** What the error line names: the file as given, or the key/flag it came from. */
  culprit: string;
  /** Where a LoRA belongs in this command (`init_lora`, `<lora:NAME>`, after the base model…). */
  loraHint: string;
}

/** The verdict when it is a usable base model; otherwise a CheckpointError naming what the file is. */
export function requireBaseModel(verdict: CheckpointVerdict, use: BaseModelUse): BaseModelVerdict {
  if (verdict.kind === 'base' && verdict.problem === null) return verdict as BaseModelVerdict;
  // Every other verdict carries its problem (verdict.ts); the fallback only keeps the types honest.
  const problem = verdict.problem ?? { code: 'base_model_unrecognized', message: 'is not a base model', hint: '' };
  const hint = verdict.kind === 'lora' ? use.loraHint : problem.hint;
  throw new CheckpointError(problem.message, { code: problem.code, culprit: use.culprit, hint });
}

/** What the engine receives as `base_model_facts`: it loads with these instead of detecting them again. */
export interface EngineBaseModelFacts {
  family: ModelFamily | null;
  prediction_type: PredictionType | null;
}

export function engineFacts(verdict: BaseModelVerdict): EngineBaseModelFacts {
  return { family: verdict.family, prediction_type: verdict.predictionType };
}

// Public API of the checkpoint inspector: what a model file or folder is, read from its header or configs only.
/**
 * The pre-flight every command runs on its base model, before any image is decoded or Python starts:
 * `checkBaseModel('models/x.safetensors', {cwd, culprit: 'base_model', loraHint: 'put it under `init_lora`'})`
 * → `{kind: 'base', family: 'sd1', predictionType: 'epsilon', nativeSizePx: 512, …}`, or a CheckpointError
 * like `x.safetensors: this is a LoRA, not a base model (all its keys start with `lora_`)`.
 */
export { checkBaseModel, inspectCheckpoint, type InspectOptions } from './read.js';
/** Pure: `judgeSingleFile({tensors, metadata})`, `judgeDiffusersFolder(configs)` → a verdict of any kind. */
export {
  ARCHITECTURE_METADATA_KEY,
  hubVerdict,
  judgeDiffusersFolder,
  judgeSingleFile,
  nativeSizeOfConfigs,
  type Architecture,
  type CheckpointKind,
  type CheckpointLayout,
  type CheckpointProblem,
  type CheckpointVerdict,
  type FluxVariant,
  type FolderFacts,
  type HeaderFacts,
  type ModelFamily,
  type PredictionType,
} from './verdict.js';
/** `engineFacts(verdict)` → the `base_model_facts` the engine loads with. */
export {
  engineFacts,
  requireBaseModel,
  type BaseModelUse,
  type BaseModelVerdict,
  type EngineBaseModelFacts,
} from './base-model.js';
/** `merge`'s pre-flight and merge: `await mergeIntoBaseModel({base, cwd, loras: [{path, weight: 0.8}], output, loraHint})`. */
export { mergeIntoBaseModel, type MergeIntoBaseOptions } from './merge-into-base.js';

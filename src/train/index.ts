// Public API of the train stage.
/** Runs a whole training: `await runTraining({config, env: process.env, verbose: false, onEvent, note})`. */
export { runTraining, type TrainOptions, type TrainResult } from './run.js';
/** Pure planning: `planTraining(config).request` is what the engine receives. */
export { planTraining, intermediateLoraName, type TrainPlan } from './plan.js';
export { resolveTargetModules, type TargetEntry } from './target-modules.js';
/** Values for `auto` keys with reasons: `await recommendForConfig({config: readConfig(…), cwd, env, note})`. */
export { recommendTraining, formatRecommendation, type Recommendation, type RecommendInput } from './recommend.js';
export { recommendForConfig } from './recommend-inputs.js';
/** The pieces of `train`'s start the studio's pre-flight runs on their own (each throws what `train` would). */
export { BASE_MODEL_LORA_HINT, detectDevice, measureDataset } from './recommend-inputs.js';
export { gpuTrainingFootprint, type DeviceFacts } from './recommend.js';
export { readTrainingSets } from './read-datasets.js';
export { legacyModelHash } from './run.js';
export { readParentLora } from './parent-lora.js';
export { runFingerprint } from './run-fingerprint.js';
export { findResumeState, hashDataset } from './training-state.js';
export { hashTrainingPictures } from './class-pictures-and-masks.js';
export { finalFiles } from './finished-run.js';
export { trainingBuckets } from './training-buckets.js';
/** Diagnostics of a run (pure): `diagnoseLoss(points, validation, facts)`, `findOverfitting(likeness, bits)`. */
export { formatFinding, type Finding } from './diagnostics.js';
/** What `train` records about a continued LoRA's parents, as `lora_scripts.lineage` JSON in its header. */
export { LINEAGE_METADATA_KEY, type Lineage } from './lineage.js';

// Public API of the train stage.
/** Runs a whole training: `await runTraining({config, env: process.env, verbose: false, onEvent, note})`. */
export { runTraining, type TrainOptions, type TrainResult } from './run.js';
/** Pure planning: `planTraining(config).request` is what the engine receives. */
export { planTraining, intermediateLoraName, type TrainPlan } from './plan.js';
export { resolveTargetModules, type TargetEntry } from './target-modules.js';

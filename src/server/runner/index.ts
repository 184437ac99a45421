// The job runner: takes queued jobs from the store one at a time per device and runs them to a final status.
/**
 * Starts the loop; `stop()` aborts the running job and resolves when it has ended.
 * @example const runner = startJobRunner({ store, device: 'default', execute: trainExecutor({ workspace, env }) });
 */
export {
  DEFAULT_DEVICE,
  type JobExecution,
  type JobExecutor,
  type JobRunner,
  type JobRunnerOptions,
  jobErrorOf,
  startJobRunner,
} from './job-runner.js';
/** The train job's config, validated by the CLI's schema with its paths confined to the workspace. */
export { resolveTrainConfig } from './train-config.js';
export { type TrainExecutorOptions, trainExecutor } from './train-executor.js';
/** Every kind's executor behind one: `startJobRunner({ store, device, execute: executorForKind({ workspace, env }) })`. */
export { checkJobConfig, type ExecutorOptions, executorForKind } from './job-kinds.js';
/** The config schema of each kind but train (whose keys are config/schema.ts's). */
export {
  autoLabelJobConfigSchema,
  generateJobConfigSchema,
  mergeJobConfigSchema,
  prepareJobConfigSchema,
} from './job-configs.js';
export { GENERATE_ROOT, GRID_FILE } from './generate-executor.js';
export { PREPARED_ROOT } from './prepare-executor.js';

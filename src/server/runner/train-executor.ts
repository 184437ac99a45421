// The executor of `train` jobs: the CLI's own training function, its notes as the job log, its steps as progress.
import { relative } from 'node:path';
import type { EngineEvent, Env } from '../../engine/index.js';
import { InterruptedError, LoraScriptsError } from '../../errors.js';
import { runTraining } from '../../train/index.js';
import type { JobExecutor } from './job-runner.js';
import { resolveTrainConfig } from './train-config.js';

export interface TrainExecutorOptions {
  workspace: string;
  env: Env;
}

/**
 * A resumed job (`resume_from` set by the resume route, `auto`) goes on from its last saved state, as `--resume auto`.
 * The job's signal (cancel, server stop) stops the training as Ctrl-C does: the engine saves what it trained so far.
 */
export function trainExecutor({ workspace, env }: TrainExecutorOptions): JobExecutor {
  const execute: JobExecutor = async (job, { signal, log, progress }) => {
    const config = resolveTrainConfig(job.config, workspace, job.resume_from);
    log([`training ${config.output_name} from ${relative(workspace, config.train_data_dir)}`]);
    const result = await runTraining({
      config,
      env,
      verbose: false,
      stopSignal: signal,
      note: (line) => log(line.split('\n')),
      onEvent: (event) => {
        if (event.type === 'progress') progress({ step: event.step, total: event.total_steps, loss: event.loss });
        const line = logLineOf(event, workspace);
        if (line !== null) log([line]);
      },
    });
    if (result.isInterrupted) {
      throw new InterruptedError(`interrupted at step ${result.steps}; the LoRA trained so far was saved`, {
        code: 'interrupted',
        hint: 'resume the job to go on from its last saved state',
      });
    }
    log([`LoRA for WebUI / ComfyUI: ${relative(workspace, result.loraFile)}`]);
    const files = [result.loraFile, result.diffusersFile, ...result.intermediateFiles];
    return files.map((file) => relative(workspace, file));
  };
  return (job, execution) =>
    execute(job, execution).catch((error: unknown) => {
      throw inWorkspaceTerms(error, workspace);
    });
}

/** The error with the workspace's own path taken out: a client sees the paths it sent, not the server's folders. */
export function inWorkspaceTerms(error: unknown, workspace: string): unknown {
  const strip = (text: string) => text.replaceAll(`${workspace}/`, '');
  const missing = error as NodeJS.ErrnoException;
  // The CLI checks its paths when it loads the config (config/load.ts); a job's paths may be missing by run time.
  if (missing.code === 'ENOENT' && typeof missing.path === 'string') {
    return new LoraScriptsError('not found in the workspace', {
      code: 'path_missing',
      culprit: strip(missing.path),
      hint: 'upload it, or fix the path in the job config',
      cause: error,
    });
  }
  if (!(error instanceof LoraScriptsError)) return error;
  const ErrorClass = error.constructor as typeof LoraScriptsError;
  return new ErrorClass(strip(error.message), {
    code: error.code,
    ...(error.culprit === undefined ? {} : { culprit: strip(error.culprit) }),
    ...(error.hint === undefined ? {} : { hint: strip(error.hint) }),
    cause: error,
  });
}

/** The engine events worth a line in the job log (the CLI shows the same ones on its progress line). */
export function logLineOf(event: EngineEvent, workspace: string): string | null {
  switch (event.type) {
    case 'started':
      return `${event.num_images} pictures, ${event.epochs} epochs of ${event.steps_per_epoch} steps (${event.total_steps} steps)`;
    case 'progress':
      return `step ${event.step}/${event.total_steps}  epoch ${event.epoch}  loss ${event.loss.toFixed(4)}`;
    case 'validation':
      return `step ${event.step}: validation loss ${event.loss.toFixed(4)} on ${event.images} pictures`;
    case 'checkpoint':
      return `step ${event.step}: saved ${relative(workspace, event.path)}`;
    default:
      return null;
  }
}

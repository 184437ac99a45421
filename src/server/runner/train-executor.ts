// The executor of `train` jobs: the CLI's own training function, its notes as the job log, its steps as progress.
import { relative } from 'node:path';
import type { EngineEvent, Env } from '../../engine/index.js';
import { InterruptedError, LoraScriptsError } from '../../errors.js';
import type { NewJobUpdate } from '../../store/index.js';
import { type AutoValues, autoKeysOf, type ParsedConfig } from '../../config/index.js';
import { formatFinding, formatRecommendation, recommendForConfig, runTraining } from '../../train/index.js';
import { createEtaEstimator } from './eta.js';
import type { JobExecutor } from './job-runner.js';
import { checkTrainConfig, resolveCheckedTrainConfig } from './train-config.js';

export interface TrainExecutorOptions {
  workspace: string;
  env: Env;
}

/**
 * A resumed job (`resume_from` set by the resume route, `auto`) goes on from its last saved state, as `--resume auto`.
 * The job's signal (cancel, server stop) stops the training as Ctrl-C does: the engine saves what it trained so far.
 */
export function trainExecutor({ workspace, env }: TrainExecutorOptions): JobExecutor {
  /** `auto` keys filled in from the dataset and the device, as `train` does at its start; the reasons go to the log. */
  const recommendAutoValues = async (
    parsed: ParsedConfig,
    log: (lines: readonly string[]) => void,
  ): Promise<AutoValues | undefined> => {
    const keys = autoKeysOf(parsed);
    if (keys.length === 0) return undefined;
    const note = (line: string) => log([line]);
    const recommendation = await recommendForConfig({ config: parsed, cwd: workspace, env, note });
    log(formatRecommendation(recommendation, keys, true).map((line) => `auto ${line}`));
    return recommendation.values;
  };
  const execute: JobExecutor = async (job, { signal, log, progress, update }) => {
    const checked = checkTrainConfig(job.config, workspace, job.resume_from);
    const config = resolveCheckedTrainConfig(checked, workspace, await recommendAutoValues(checked, log));
    log([`training ${config.output_name} from ${relative(workspace, config.train_data_dir)}`]);
    const eta = createEtaEstimator();
    const result = await runTraining({
      config,
      env,
      verbose: false,
      stopSignal: signal,
      note: (line) => log(line.split('\n')),
      onIntermediateLora: (file, step) => {
        update({ type: 'checkpoint', step, path: relative(workspace, file), is_final: false });
      },
      onFinding: (finding) => {
        log([formatFinding(finding)]);
        const { code, step, epoch, message, hint } = finding;
        update({ type: 'finding', code, step, epoch, message, hint });
      },
      onEvent: (event) => {
        if (event.type === 'progress') progress({ step: event.step, total: event.total_steps, loss: event.loss });
        const typed = updateOf(event, workspace, eta);
        const line = logLineOf(event, workspace);
        // A step's line restates its progress update: watchers get the update, the full log the line.
        if (line !== null) log([line], { toWatchers: typed?.type !== 'progress' });
        if (typed !== null) update(typed);
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

/** The engine events a watcher of the job sees as typed updates (paths made workspace-relative). */
export function updateOf(
  event: EngineEvent,
  workspace: string,
  eta: ReturnType<typeof createEtaEstimator>,
): NewJobUpdate | null {
  switch (event.type) {
    case 'progress': {
      const { step, total_steps, epoch, loss, loss_smoothed, lr, step_ms } = event;
      const eta_s = eta.secondsLeft(step, total_steps, step_ms);
      return { type: 'progress', step, total_steps, epoch, loss, loss_smoothed, lr, step_ms, eta_s };
    }
    case 'sample':
      return { type: 'sample', step: event.step, prompt: event.prompt, path: relative(workspace, event.path) };
    // A checkpoint becomes an update once its WebUI/kohya file is written (onIntermediateLora), not at the engine's save.
    case 'validation':
      return { type: 'validation', step: event.step, epoch: event.epoch, loss: event.loss, images: event.images };
    case 'warning':
      return { type: 'warning', code: event.code, message: event.message, hint: event.hint ?? null };
    default:
      return null;
  }
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

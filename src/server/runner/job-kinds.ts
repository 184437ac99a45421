// Every job kind in one table: how its config is checked before it is queued, and the executor that runs it.
import { realpathSync } from 'node:fs';
import type { Env } from '../../engine/index.js';
import { InterruptedError } from '../../errors.js';
import type { DatabaseLocation, JobKind } from '../../store/index.js';
import { generateExecutor, resolveGenerateJob } from './generate-executor.js';
import type { JobExecutor } from './job-runner.js';
import { labelExecutor, resolveAutoLabelJob } from './label-executor.js';
import { mergeExecutor, resolveMergeJob } from './merge-executor.js';
import { prepareExecutor, resolvePrepareJob } from './prepare-executor.js';
import { checkTrainConfig } from './train-config.js';
import { inWorkspaceTerms, trainExecutor } from './train-executor.js';

export interface ExecutorOptions {
  workspace: string;
  /** The environment the engine runs with (train, generate, auto-label with a model). */
  env: Env;
  /** The studio's database, where generate looks up `<lora:NAME>` in the style library (default: the workspace's). */
  database?: DatabaseLocation | undefined;
}

/**
 * Throws what is wrong with a job's config before it is queued: ConfigError (400 naming `config.<field>`) or
 * RequestRefused (a path outside the workspace). The executor checks it again when the job runs.
 */
export function checkJobConfig(kind: JobKind, config: unknown, workspace: string): void {
  const root = realpathSync(workspace);
  const checks: Record<JobKind, () => unknown> = {
    train: () => checkTrainConfig(config as Record<string, unknown>, root),
    prepare: () => resolvePrepareJob(config, root),
    'auto-label': () => resolveAutoLabelJob(config, root),
    generate: () => resolveGenerateJob(config, root),
    merge: () => resolveMergeJob(config, root),
  };
  checks[kind]();
}

/**
 * The runner's executor: each job goes to its kind's. A failure is told in workspace terms (no server folders), and
 * one that comes after the job's signal (an engine killed by a cancel) is an interruption, not an error of the job.
 * @example startJobRunner({ store, device, execute: executorForKind({ workspace, env }) })
 */
export function executorForKind({ workspace, env, database }: ExecutorOptions): JobExecutor {
  const root = realpathSync(workspace);
  const executors: Record<JobKind, JobExecutor> = {
    train: trainExecutor({ workspace: root, env }),
    prepare: prepareExecutor({ workspace: root }),
    'auto-label': labelExecutor({ workspace: root, env }),
    generate: generateExecutor({ workspace: root, env, database }),
    merge: mergeExecutor({ workspace: root }),
  };
  return async (job, execution) => {
    try {
      return await executors[job.kind](job, execution);
    } catch (error) {
      if (execution.signal.aborted && !(error instanceof InterruptedError)) {
        throw new InterruptedError('stopped', { code: 'interrupted', cause: error });
      }
      throw inWorkspaceTerms(error, root);
    }
  };
}

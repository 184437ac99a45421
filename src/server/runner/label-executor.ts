// The executor of `auto-label` jobs: the CLI's own autoLabel on a workspace dataset, the rule-based captioner or a
// captioning model in the engine (stopped by the job's signal), one progress step per picture.
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Env } from '../../engine/index.js';
import { InterruptedError } from '../../errors.js';
import { autoLabel, type Captioner, type CaptionTarget, modelCaptioner, ruleCaptioner } from '../../label/index.js';
import {
  type AutoLabelJobConfig,
  autoLabelJobConfigSchema,
  parseJobConfig,
  workspaceFile,
  workspaceRelative,
} from './job-configs.js';
import type { JobExecution, JobExecutor } from './job-runner.js';

/** The caption files the studio's datasets keep beside each picture. */
const CAPTION_EXTENSION = '.txt';
/** The CLI's defaults for a captioning model (cli/command-flags.ts AUTO_LABEL_FLAGS). */
const MODEL_DEFAULTS = { batchSize: 8, task: '<DETAILED_CAPTION>', threshold: 0.35, maxTokens: 75 };

export interface ResolvedAutoLabelJob {
  config: AutoLabelJobConfig;
  inputDir: string;
  model: string | null;
}

export function resolveAutoLabelJob(config: unknown, workspace: string): ResolvedAutoLabelJob {
  const parsed = parseJobConfig(autoLabelJobConfigSchema, config);
  return {
    config: parsed,
    inputDir: workspaceFile(workspace, 'dataset', parsed.dataset, true),
    model: parsed.model === undefined ? null : workspaceFile(workspace, 'model', parsed.model, true),
  };
}

/**
 * Captions go to `<stem>.txt` beside the pictures, where the studio's caption editor reads them; a dataset that has a
 * metadata.csv (made by the CLI) gets its captions there, as `lora-scripts auto-label` writes them, since `prepare`
 * reads that file before any .txt. Outputs: the caption files (or the CSV) written.
 */
export function labelExecutor({ workspace, env }: { workspace: string; env: Env }): JobExecutor {
  return async (job, execution) => {
    const { config, inputDir, model } = resolveAutoLabelJob(job.config, workspace);
    const { log } = execution;
    const csv = join(inputDir, 'metadata.csv');
    const target: CaptionTarget = existsSync(csv) ? { outputCsv: csv } : { captionExtension: CAPTION_EXTENSION };
    log([
      `captioning ${workspaceRelative(workspace, inputDir)} with ${model ? workspaceRelative(workspace, model) : 'the rule-based captioner'}`,
    ]);
    const result = await autoLabel({
      inputDir,
      ...target,
      shouldOverwrite: config.overwrite ?? false,
      isDryRun: false,
      triggerWord: config.trigger_word,
      prefix: config.prefix,
      suffix: config.suffix,
      captioner: model ? engineCaptioner(model, config, inputDir, env, execution) : steppedRuleCaptioner(execution),
    });
    if (result.emptyDrafts.length > 0) {
      log([`warning: the model gave ${result.emptyDrafts.length} pictures an empty caption; write those by hand`]);
    }
    if (result.orphaned.length > 0) {
      log([
        `${result.orphaned.length} captions of pictures that are gone moved to ${workspaceRelative(workspace, result.orphanedCsv)}`,
      ]);
    }
    log([`wrote ${result.written} captions, kept ${result.kept} existing ones`]);
    const written = 'outputCsv' in target ? (result.written > 0 ? [target.outputCsv] : []) : result.captionFiles;
    return written.map((path) => workspaceRelative(workspace, path));
  };
}

/** The rule-based captioner one picture at a time, so the job shows progress and a cancel stops it between two. */
function steppedRuleCaptioner({ signal, progress }: JobExecution): Captioner {
  return async (images) => {
    const bodies: string[] = [];
    for (const image of images) {
      if (signal.aborted) throw new InterruptedError('stopped', { code: 'interrupted' });
      bodies.push(...(await ruleCaptioner([image])));
      progress({ step: bodies.length, total: images.length });
    }
    return bodies;
  };
}

function engineCaptioner(
  model: string,
  config: AutoLabelJobConfig,
  inputDir: string,
  env: Env,
  { signal, log, progress }: JobExecution,
): Captioner {
  const captioner = modelCaptioner({
    model,
    batchSize: config.batch_size ?? MODEL_DEFAULTS.batchSize,
    task: config.task ?? MODEL_DEFAULTS.task,
    threshold: config.threshold ?? MODEL_DEFAULTS.threshold,
    maxTokens: config.max_tokens ?? MODEL_DEFAULTS.maxTokens,
    env,
    verbose: false,
    stopSignal: signal,
    onEvent: (event) => {
      if (event.type === 'stage') log([event.message]);
      else if (event.type === 'caption') {
        log([`[${event.index}/${event.total}] ${relative(inputDir, event.image)}`]);
        progress({ step: event.index, total: event.total });
      }
    },
  });
  return async (images) => {
    // An engine started with an aborted signal would never see it.
    if (signal.aborted) throw new InterruptedError('stopped before the engine started', { code: 'interrupted' });
    return captioner(images);
  };
}

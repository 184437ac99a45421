// The executor of `prepare` jobs: the CLI's own prepareDataset on a workspace dataset, its phases as progress.
import { availableParallelism } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { prepareDataset, REPORT_HTML, REPORT_JSON, strictFailureOf } from '../../dataset/index.js';
import { CLIP_TOKENIZER_DIR } from '../../engine/index.js';
import { InterruptedError } from '../../errors.js';
import { TOOL_VERSION } from '../../version.js';
import {
  DEFAULT_TARGET_PX,
  type PrepareJobConfig,
  parseJobConfig,
  prepareJobConfigSchema,
  thresholdsOf,
  workspaceFile,
  workspaceRelative,
} from './job-configs.js';
import type { JobExecutor } from './job-runner.js';

/** Where a dataset's prepared copy goes when the config names no `out`: outside `datasets/`, so it is no dataset. */
export const PREPARED_ROOT = 'prepared';

export interface ResolvedPrepareJob {
  config: PrepareJobConfig;
  inputDir: string;
  outDir: string;
}

/** The config checked and its paths confined to the workspace; the dataset must exist. */
export function resolvePrepareJob(config: unknown, workspace: string): ResolvedPrepareJob {
  const parsed = parseJobConfig(prepareJobConfigSchema, config);
  const inputDir = workspaceFile(workspace, 'dataset', parsed.dataset, true);
  const out = parsed.out ?? `${PREPARED_ROOT}/${basename(inputDir)}`;
  return { config: parsed, inputDir, outDir: workspaceFile(workspace, 'out', out, false) };
}

/** Outputs: the JSON report first (the datasets page reads it), the HTML report, then the prepared folder. */
export function prepareExecutor({ workspace }: { workspace: string }): JobExecutor {
  return async (job, { signal, log, progress }) => {
    const { config, inputDir, outDir } = resolvePrepareJob(job.config, workspace);
    const shown = (path: string) => workspaceRelative(workspace, path);
    log([`preparing ${shown(inputDir)} into ${shown(outDir)}`]);
    let phase = '';
    const result = await prepareDataset({
      inputDir,
      outDir,
      targetPx: config.target ?? DEFAULT_TARGET_PX,
      crop: config.crop ?? 'center',
      useBuckets: config.buckets ?? false,
      isStrict: config.strict ?? false,
      triggerWord: config.trigger_word ?? null,
      thresholds: thresholdsOf(config),
      metadataPath: null,
      captionExtension: config.caption_extension ?? '.txt',
      tokenizerDir: CLIP_TOKENIZER_DIR,
      // A server shares its cores with the training next to it: one picture per core, not the CLI's two.
      jobs: availableParallelism(),
      toolVersion: TOOL_VERSION,
      onProgress: (next, done, total) => {
        // prepareDataset has no stop signal: a cancel ends the job at the next picture, before anything is renamed.
        if (signal.aborted) throw new InterruptedError('stopped', { code: 'interrupted' });
        if (next !== phase) log([`${next === 'inspect' ? 'checking' : 'writing'} ${total} pictures`]);
        phase = next;
        progress({ step: done, total });
      },
    });
    const { summary, captions_from } = result.report;
    // `captions_from` is a CSV's absolute path, `.txt files` or `none`: a client sees workspace paths only.
    const captionsFrom = isAbsolute(captions_from) ? shown(captions_from) : captions_from;
    log([
      `${summary.images} pictures: ${summary.kept} kept, ${summary.excluded} excluded; captions from ${captionsFrom}`,
    ]);
    const strictFailure = strictFailureOf(result, inputDir);
    if (strictFailure) throw strictFailure;
    return [join(outDir, REPORT_JSON), join(outDir, REPORT_HTML), outDir].map(shown);
  };
}

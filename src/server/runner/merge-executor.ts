// The executor of `merge` jobs: the CLI's own mergeIntoBaseModel (base-model pre-flight, then the streamed merge).
import { mergeIntoBaseModel } from '../../checkpoint/index.js';
import { ConfigError } from '../../errors.js';
import {
  type MergeJobConfig,
  mergeJobConfigSchema,
  parseJobConfig,
  workspaceFile,
  workspaceRelative,
} from './job-configs.js';
import type { JobExecutor } from './job-runner.js';

export interface ResolvedMergeJob {
  config: MergeJobConfig;
  base: string;
  loras: { path: string; weight: number }[];
  output: string;
}

export function resolveMergeJob(config: unknown, workspace: string): ResolvedMergeJob {
  const parsed = parseJobConfig(mergeJobConfigSchema, config);
  const base = workspaceFile(workspace, 'base_model', parsed.base_model, true);
  const loras = parsed.loras.map((lora, i) => ({
    path: workspaceFile(workspace, `loras.${i}.path`, lora.path, true),
    weight: lora.strength,
  }));
  const output = workspaceFile(workspace, 'output', parsed.output, false);
  // The output is renamed over its path: never over a file the merge reads.
  if (output === base || loras.some((lora) => lora.path === output)) {
    throw new ConfigError('must be a new file, not the base model or a LoRA being merged', {
      code: 'output_is_input',
      culprit: 'config.output',
      hint: 'name a new `.safetensors` file, e.g. `models/merged.safetensors`',
    });
  }
  return { config: parsed, base, loras, output };
}

/** Outputs: the merged checkpoint. Progress is tensors written; a cancel stops it between two, writing nothing. */
export function mergeExecutor({ workspace }: { workspace: string }): JobExecutor {
  return async (job, { signal, log, progress }) => {
    const { base, loras, output } = resolveMergeJob(job.config, workspace);
    const shown = (path: string) => workspaceRelative(workspace, path);
    log([`merging ${loras.map((lora) => `${shown(lora.path)}:${lora.weight}`).join(', ')} into ${shown(base)}`]);
    const summary = await mergeIntoBaseModel({
      base: shown(base),
      cwd: workspace,
      loras,
      output,
      loraHint: 'put the checkpoint in `base_model` and the LoRA in `loras`',
      // Every 16th tensor: a progress write per tensor would be a thousand store writes for one SD 1.5 merge.
      onTensor: (done, total) => {
        if (done % 16 === 0 || done === total) progress({ step: done, total });
      },
      stopSignal: signal,
    });
    log([
      `merged ${summary.modules} LoRA modules into ${summary.changedTensors} weights of the ${summary.family} checkpoint (${summary.copiedTensors} tensors copied unchanged)`,
      `merged checkpoint: ${shown(output)}`,
    ]);
    return [shown(output)];
  };
}

// `keep`: which intermediate LoRA of a train job a step names, and the name it is kept under. Pure.
import { posix } from 'node:path';
import { LoraScriptsError } from '../../errors.js';
import type { Job } from '../../store/index.js';
import { intermediateLoraName } from '../../train/index.js';

/** An intermediate LoRA a train job saved (`save_steps`): `<output_dir>/<output_name>-step00000100.safetensors`. */
export interface SavedIntermediate {
  path: string;
  outputName: string;
  step: number;
}

export interface KeepPlan {
  source: string;
  /** `<output_name>-step<step>.safetensors` in the same folder, next to the final `<output_name>.safetensors`. */
  target: string;
}

const INTERMEDIATE_NAME = /^(.+)-step(\d+)\.safetensors$/;

/** The intermediate LoRAs among `outputs`, by step; a name matches only if train's own naming gives it back. */
export function savedIntermediates(outputs: readonly string[]): SavedIntermediate[] {
  const saved: SavedIntermediate[] = [];
  for (const path of outputs) {
    const name = posix.basename(path);
    const match = INTERMEDIATE_NAME.exec(name);
    if (match === null) continue;
    const outputName = match[1]!;
    const step = Number(match[2]);
    if (intermediateLoraName(outputName, step) === name) saved.push({ path, outputName, step });
  }
  return saved.sort((a, b) => a.step - b.step);
}

export function keptLoraName(outputName: string, step: number): string {
  return `${outputName}-step${step}.safetensors`;
}

/** Where the LoRA of `step` is copied from and to, or the refusal: not a train job (409), no LoRA at that step (404). */
export function planKeep(job: Pick<Job, 'id' | 'kind' | 'status' | 'outputs'>, step: number): KeepPlan {
  if (job.kind !== 'train') {
    throw new LoraScriptsError(`is a \`${job.kind}\` job; only train jobs save LoRAs to keep`, {
      code: 'not_a_train_job',
      culprit: `job \`${job.id}\``,
      hint: '`GET /api/jobs?kind=train` lists the train jobs',
    });
  }
  const saved = savedIntermediates(job.outputs);
  const found = saved.find((lora) => lora.step === step);
  if (found === undefined) {
    throw new LoraScriptsError(`saved no LoRA at step ${step}`, {
      code: 'step_not_saved',
      culprit: `job \`${job.id}\``,
      hint: savedStepsHint(saved, job.status),
    });
  }
  const folder = posix.dirname(found.path);
  return { source: found.path, target: posix.join(folder, keptLoraName(found.outputName, step)) };
}

function savedStepsHint(saved: readonly SavedIntermediate[], status: Job['status']): string {
  if (saved.length > 0)
    return `it saved LoRAs at steps ${saved.map((lora) => lora.step).join(', ')}; keep one of those`;
  switch (status) {
    case 'done':
      return 'it saved only its final LoRA; train with `save_steps` set to save one every N steps';
    case 'queued':
    case 'running':
      return `the job is ${status} and has saved no LoRA yet; keep one once a \`checkpoint\` update names it`;
    case 'interrupted':
      return 'it saved no LoRA before it was interrupted; resume it';
    default:
      return `the job ended ${status} before it saved a LoRA; \`GET /api/loras\` lists the LoRA files it left`;
  }
}

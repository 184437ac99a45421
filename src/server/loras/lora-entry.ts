// What the studio shows of a LoRA file, from its `inspect` report: key format, family, rank, step, base model. Pure.
import { LoraScriptsError } from '../../errors.js';
import type { InspectReport } from '../../lora/index.js';
import type { LoraEntry } from './schemas.js';

export type LoraKeyFormat = LoraEntry['format'];

/** The file facts the shell reads with `stat`. */
export interface FileFacts {
  path: string;
  bytes: number;
  modifiedAt: Date;
}

/**
 * The key layout of a LoRA: kohya names (LyCORIS' own LoCon included, as sd-scripts writes them) or diffusers/PEFT
 * names; null for a file that is no LoRA (a base model, a VAE, a latent cache) or one in another layout (ComfyUI's,
 * a PEFT adapter folder's), which the studio neither lists nor converts.
 */
export function loraKeyFormat(report: Pick<InspectReport, 'format' | 'modules'>): LoraKeyFormat | null {
  if (report.modules.length === 0) return null;
  switch (report.format.name) {
    case 'kohya':
      return 'kohya';
    case 'lycoris':
      return report.modules.every((module) => module.name.startsWith('lora_')) ? 'kohya' : null;
    case 'diffusers':
      return 'diffusers';
    default:
      return null;
  }
}

/** The list entry of a LoRA file, or null when the report says it is not one the studio handles. */
export function loraEntryOf(report: InspectReport, file: FileFacts, jobId: string | null): LoraEntry | null {
  const format = loraKeyFormat(report);
  if (format === null) return null;
  const training = report.training;
  return {
    path: file.path,
    name: loraName(file.path),
    bytes: file.bytes,
    modified_at: file.modifiedAt.toISOString(),
    format,
    family: report.family.name,
    // `ranks` is sorted most common first; a LoRA with mixed ranks is shown by the rank most of its layers have.
    rank: report.ranks[0]?.value ?? null,
    steps: training?.steps ?? null,
    base_model: training?.baseModel.name ?? training?.baseModel.version ?? null,
    job_id: jobId,
  };
}

/** `output/jiangnan/jiangnan.safetensors` → `jiangnan`. */
export function loraName(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base.replace(/\.safetensors$/i, '');
}

/** Refuses a file that is no LoRA, naming it and what it is instead (`single-file model, not a LoRA`). */
export function requireLoraFormat(report: Pick<InspectReport, 'format' | 'modules'>, path: string): LoraKeyFormat {
  const format = loraKeyFormat(report);
  if (format !== null) return format;
  const { name, variant } = report.format;
  const what = name === 'checkpoint' || name === 'unknown' ? variant : `${name} ${variant} keys`;
  throw new LoraScriptsError(`is not a LoRA the studio reads (${what})`, {
    code: 'not_a_lora',
    culprit: `\`${path}\``,
    hint: 'give a kohya or diffusers LoRA file; `GET /api/loras` lists the ones in the workspace',
  });
}

/** Output path → the id of the newest job that wrote it (`jobs` come newest first, as `listJobs` returns them). */
export function jobIdsByOutput(jobs: ReadonlyArray<{ id: string; outputs: readonly string[] }>): Map<string, string> {
  const owners = new Map<string, string>();
  for (const job of jobs) for (const output of job.outputs) if (!owners.has(output)) owners.set(output, job.id);
  return owners;
}

// Finds a measured step time for a pre-flight: the newest train job in the store that ran the same step-time setup
// and recorded its steps' times. The shell over estimate.ts's matching.
import { isFile, looksLikeHubId, validateConfig } from '../../config/index.js';
import type { JobStore } from '../../store/index.js';
import { resolveInWorkspace } from '../security/index.js';
import { isSameStepTimeSetup, medianStepMs, type StepTimeBasis, type StepTimeSetup } from './estimate.js';

/** Past train jobs looked at, newest first: enough for a week of runs, few enough to read quickly. */
const JOBS_LOOKED_AT = 50;
/** Progress updates read per job: the median settles long before. */
const UPDATES_READ = 2000;

export interface StepTimeLookup {
  store: JobStore;
  workspace: string;
  /** The base model's native size, used for a past config that leaves `resolution` out (same base model, same size). */
  nativeSizePx: number | null;
}

export async function findStepTimeBasis(setup: StepTimeSetup, lookup: StepTimeLookup): Promise<StepTimeBasis | null> {
  const jobs = await lookup.store.listJobs({ kind: 'train', limit: JOBS_LOOKED_AT });
  for (const job of jobs) {
    if (job.started_at === null) continue;
    const past = setupOfJobConfig(job.config, lookup);
    if (past === null || !isSameStepTimeSetup(past, setup)) continue;
    const updates = await lookup.store.readUpdates(job.id, { limit: UPDATES_READ });
    const progress = updates.flatMap((update) => (update.type === 'progress' ? [update] : []));
    const stepMs = medianStepMs(progress);
    if (stepMs !== null) return { jobId: job.id, stepMs, timedSteps: progress.length };
  }
  return null;
}

/** A past job's setup, or null when it cannot be compared (a value left to `auto`, a config that no longer passes). */
function setupOfJobConfig(config: Record<string, unknown>, lookup: StepTimeLookup): StepTimeSetup | null {
  let parsed: ReturnType<typeof validateConfig>;
  try {
    parsed = validateConfig({ file: 'job', text: JSON.stringify(config) });
  } catch {
    return null;
  }
  if (parsed.batch_size === 'auto') return null; // what it became is in no record
  const resolutionPx = parsed.resolution ?? lookup.nativeSizePx;
  if (resolutionPx === null) return null;
  const baseModel = baseModelOf(parsed.base_model, lookup.workspace);
  if (baseModel === null) return null;
  return {
    base_model: baseModel,
    resolution_px: resolutionPx,
    batch_size: parsed.batch_size,
    gradient_accumulation_steps: parsed.gradient_accumulation_steps,
    mixed_precision: parsed.mixed_precision,
    gradient_checkpointing: parsed.gradient_checkpointing,
    train_text_encoder: parsed.train_text_encoder,
    target_modules: typeof parsed.target_modules === 'string' ? [parsed.target_modules] : parsed.target_modules,
    cache_latents: parsed.cache_latents,
    torch_compile: parsed.torch_compile,
    cpu_kernels: parsed.cpu_kernels,
  };
}

/** As the pre-flight names its own base model: the hub id, or the path inside the workspace with symlinks resolved. */
function baseModelOf(value: string, workspace: string): string | null {
  if (looksLikeHubId(value, { cwd: workspace, isFile })) return value;
  try {
    return resolveInWorkspace(workspace, value);
  } catch {
    return null;
  }
}

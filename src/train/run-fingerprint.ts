// What a training state must match to be resumed exactly: every setting that changes the numbers, and hashes of the
// dataset, base model and `init_lora`. Pure: the hashes are computed by the caller (train/training-state.ts).
import { CONFIG_KEYS, RESUME_FREE_KEYS, type ResolvedConfig } from '../config/index.js';

/** Written by the engine into each state's `state.json`; compared before a resume. */
export interface RunFingerprint {
  config: Record<string, unknown>;
  /** sha256 over every image's bytes, caption and repeats. */
  dataset: string;
  /** A cheap identity of the base model (A1111's legacy hash, or the folder / hub id). */
  base_model: string;
  /** sha256 of the `init_lora` file, or null. */
  init_lora: string | null;
}

export interface FingerprintHashes {
  dataset: string;
  baseModel: string;
  initLora: string | null;
  /** Processes the run trains in (`devices`); 1 when left out. */
  processes?: number;
}

/**
 * Keys that may change between a stopped run and its resume, derived from `resumeFree` in the schema's metadata: the
 * length of the run, where and how often results are written, samples, speed-only switches, and paths (the hashes
 * stand for what they point at, so a moved dataset still resumes).
 */
export { RESUME_FREE_KEYS };

export function runFingerprint(config: ResolvedConfig, hashes: FingerprintHashes): RunFingerprint {
  const bound = CONFIG_KEYS.filter((key) => !RESUME_FREE_KEYS.includes(key)).map((key) => [
    key,
    // The global batch: a state goes on exactly in any number of processes that sees the same pictures per step.
    key === 'batch_size' ? config.batch_size * (hashes.processes ?? 1) : config[key],
  ]);
  return {
    config: Object.fromEntries(bound),
    dataset: hashes.dataset,
    base_model: hashes.baseModel,
    init_lora: hashes.initLora,
  };
}

/** What differs, in words (`` `lora_rank` 16 → 8 ``); empty when the state can be resumed exactly. */
export function fingerprintChanges(saved: RunFingerprint, current: RunFingerprint): string[] {
  const changes: string[] = [];
  if (saved.dataset !== current.dataset) changes.push('the dataset (images, captions or repeats)');
  if (saved.base_model !== current.base_model) changes.push('`base_model`');
  if (saved.init_lora !== current.init_lora) changes.push('`init_lora`');
  for (const [key, value] of Object.entries(current.config)) {
    // A key the state does not know came with a newer version of the tool; its default changes nothing.
    if (!(key in saved.config)) continue;
    const before = JSON.stringify(saved.config[key]);
    const now = JSON.stringify(value);
    if (before !== now) changes.push(`\`${key}\` ${before} → ${now}`);
  }
  return changes;
}

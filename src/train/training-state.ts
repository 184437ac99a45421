// The training states the engine saves in `<output_dir>/states/` (engine/lora_scripts_engine/training_state.py):
// finding the one `resume` names, checking it still fits the config, and the hashes that fingerprint a run.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import type { ManifestExtra, MeasuredItem } from '../dataset/index.js';
import { ConfigError } from '../errors.js';
import { sha256OfFile } from '../fs/file-hash.js';
import { fingerprintChanges, RESUME_FREE_KEYS, type RunFingerprint } from './run-fingerprint.js';

export const STATES_FOLDER = 'states';
const RECORD_FILE = 'state.json';

export interface SavedState {
  dir: string;
  step: number;
  epoch: number;
  savedAt: number;
  fingerprint: RunFingerprint;
}

/** A complete state folder (its `state.json` is written before the folder gets its final name), or null. */
function readState(dir: string): SavedState | null {
  const record = join(dir, RECORD_FILE);
  if (!existsSync(record)) return null;
  const raw = JSON.parse(readFileSync(record, 'utf8')) as {
    step: number;
    epoch: number;
    saved_at: number;
    fingerprint: RunFingerprint;
  };
  return { dir, step: raw.step, epoch: raw.epoch, savedAt: raw.saved_at, fingerprint: raw.fingerprint };
}

/** The states in `<outputDir>/states/`, newest saved first (a resumed run may re-save lower steps later). */
export function listStates(outputDir: string): SavedState[] {
  const folder = join(outputDir, STATES_FOLDER);
  if (!existsSync(folder)) return [];
  const states = readdirSync(folder)
    .filter((name) => !name.startsWith('.'))
    .map((name) => readState(join(folder, name)))
    .filter((state): state is SavedState => state !== null);
  return states.sort((a, b) => b.savedAt - a.savedAt);
}

/**
 * The state `resume` names: `latest` / `auto` → the newest in `output_dir` (`auto` allows none), a state folder, or an
 * output folder (its newest). Throws a ConfigError naming every setting that changed since it was saved.
 */
export function findResumeState(config: ResolvedConfig, current: RunFingerprint): SavedState | null {
  const { resume } = config;
  if (resume === null) return null;
  const isKeyword = resume === 'latest' || resume === 'auto';
  const state = isKeyword
    ? (listStates(config.output_dir)[0] ?? null)
    : (readState(resume) ??
      (existsSync(resume) && statSync(resume).isDirectory() ? (listStates(resume)[0] ?? null) : null));
  if (state === null) {
    if (resume === 'auto') return null;
    const where = isKeyword ? join(config.output_dir, STATES_FOLDER) : resume;
    throw new ConfigError(`no saved training state in ${where}`, {
      code: 'state_missing',
      culprit: `resume: ${resume}`,
      hint: 'a state is saved with every checkpoint (`save_steps`), every `save_state_every_minutes` and when a run stops; `resume: auto` starts a new run when there is none',
    });
  }
  const changes = fingerprintChanges(state.fingerprint, current);
  if (changes.length > 0) {
    throw new ConfigError(`the config changed since the state at step ${state.step} was saved: ${changes.join(', ')}`, {
      code: 'resume_config_changed',
      culprit: `resume: ${resume}`,
      hint: `change them back to resume exactly, or start a new run (remove \`resume\`); \`lora-scripts config keys\` marks the ${RESUME_FREE_KEYS.length} keys that may change`,
    });
  }
  return state;
}

/**
 * sha256 over each image's bytes, caption and repeats, in dataset order: any change to what the engine reads. Class
 * pictures and masks (`extras`, aligned with `items`) add to an image's entry, so a run without them hashes as before.
 */
export async function hashDataset(items: MeasuredItem[], extras: readonly ManifestExtra[] = []): Promise<string> {
  const hash = createHash('sha256');
  for (const [index, item] of items.entries()) {
    const fields: unknown[] = [item.relPath, item.caption, item.repeats, await sha256OfFile(item.path)];
    const extra = extras[index];
    if (extra?.is_class) fields.push('class');
    if (extra?.mask) fields.push(extra.mask === item.path ? 'alpha' : await sha256OfFile(extra.mask));
    hash.update(`${JSON.stringify(fields)}\n`);
  }
  return hash.digest('hex');
}

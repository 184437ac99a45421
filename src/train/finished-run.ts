// A run cut off in its ending: the final files it writes after training, and which of them are missing or stale, so
// that `resume` from its finished state writes exactly those (the engine writes the diffusers file, run.ts the rest).
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResolvedConfig } from '../config/index.js';
import { readSafetensorsHeader } from '../lora/index.js';

export const RUN_RECORD_FILE = 'lora_scripts.json';
// The engine's name for the final LoRA (engine/lora_scripts_engine/lora_files.py WEIGHT_NAME).
const DIFFUSERS_FILE = 'pytorch_lora_weights.safetensors';

/** The ending's files, in the order they are written. */
export interface FinalFiles {
  diffusersFile: string;
  loraFile: string;
  runRecord: string;
}

export function finalFiles(config: ResolvedConfig): FinalFiles {
  return {
    diffusersFile: join(config.output_dir, DIFFUSERS_FILE),
    loraFile: join(config.output_dir, `${config.output_name}.safetensors`),
    runRecord: join(config.output_dir, RUN_RECORD_FILE),
  };
}

/**
 * The final files that do not hold the run at `step`: missing, cut short, or left by an earlier end of the run
 * (a run extended with more `epochs` and killed in its new ending still has the old WebUI file and record).
 * The diffusers file carries no step, so only its absence counts; the engine writes it again in any case.
 */
export function staleFinalFiles(files: FinalFiles, step: number): string[] {
  const stale: string[] = [];
  if (!existsSync(files.diffusersFile)) stale.push(files.diffusersFile);
  if (loraFileStep(files.loraFile) !== step) stale.push(files.loraFile);
  if (!isRunRecordComplete(files.runRecord, step)) stale.push(files.runRecord);
  return stale;
}

/** The `ss_steps` of a kohya file, or null when it is missing or unreadable. */
function loraFileStep(path: string): number | null {
  if (!existsSync(path)) return null;
  const fd = openSync(path, 'r');
  try {
    return Number(readSafetensorsHeader(fd, path).metadata.ss_steps);
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The record of the run at `step`, with its `diagnostics` (added last: a kill before them leaves the record short). */
function isRunRecordComplete(path: string, step: number): boolean {
  if (!existsSync(path)) return false;
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as { training?: { steps?: number }; diagnostics?: unknown };
    return record.training?.steps === step && Array.isArray(record.diagnostics);
  } catch {
    return false;
  }
}

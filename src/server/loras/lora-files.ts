// Reads LoRA files of the workspace for the routes: the list, one file's inspect report, a file checked to be a LoRA.
import { statSync } from 'node:fs';
import { LoraScriptsError } from '../../errors.js';
import { type InspectReport, inspectLoraFile } from '../../lora/index.js';
import type { Job } from '../../store/index.js';
import { resolveInWorkspace } from '../security/index.js';
import { jobIdsByOutput, type LoraKeyFormat, loraEntryOf, requireLoraFormat } from './lora-entry.js';
import type { LoraEntry } from './schemas.js';
import { findSafetensorsFiles } from './workspace-walk.js';

/** Every LoRA of the workspace, newest first, each linked to the train job that wrote it. */
export function listWorkspaceLoras(workspace: string, trainJobs: readonly Job[]): LoraEntry[] {
  const owners = jobIdsByOutput(trainJobs);
  const entries: LoraEntry[] = [];
  for (const file of findSafetensorsFiles(workspace)) {
    let report: InspectReport;
    try {
      // Header and alpha scalars only: no hashing, so a listing never reads a base model's gigabytes.
      report = inspectLoraFile(file.absolute, { shouldHash: false });
    } catch {
      continue; // not a readable safetensors file: `inspect` on it says why
    }
    const entry = loraEntryOf(report, file, owners.get(file.path) ?? null);
    if (entry !== null) entries.push(entry);
  }
  return entries.sort((a, b) => b.modified_at.localeCompare(a.modified_at) || a.path.localeCompare(b.path));
}

export interface LoraFile {
  /** As the request gave it (workspace-relative). */
  path: string;
  absolute: string;
  format: LoraKeyFormat;
  report: InspectReport;
}

/**
 * The LoRA file at `path` with its inspect report (hashes when `shouldHash`), or an error naming the path: refused
 * (outside the workspace), `lora_not_found` (404), or `not_a_lora` (400, a base model or any other file).
 */
export function openLoraFile(workspace: string, path: string, options: { shouldHash: boolean }): LoraFile {
  const absolute = resolveInWorkspace(workspace, path);
  requireSafetensorsFile(absolute, path);
  const report = inWorkspaceTerms(() => inspectLoraFile(absolute, options), absolute, path);
  const shown: InspectReport = {
    ...report,
    file: path,
    problems: report.problems.map((problem) => problem.replaceAll(absolute, path)),
  };
  return { path, absolute, format: requireLoraFormat(report, path), report: shown };
}

function requireSafetensorsFile(absolute: string, path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(absolute).isFile();
  } catch {
    throw new LoraScriptsError('no such file in the workspace', {
      code: 'lora_not_found',
      culprit: `\`${path}\``,
      hint: '`GET /api/loras` lists the LoRA files of the workspace',
    });
  }
  if (!isFile || !path.toLowerCase().endsWith('.safetensors')) {
    throw new LoraScriptsError(isFile ? 'is not a .safetensors file' : 'is a folder, not a LoRA file', {
      code: 'not_a_lora',
      culprit: `\`${path}\``,
      hint: '`GET /api/loras` lists the LoRA files of the workspace',
    });
  }
}

/** Runs `read`; an error it throws names the file by its workspace path, not the server's absolute one. */
function inWorkspaceTerms<T>(read: () => T, absolute: string, path: string): T {
  try {
    return read();
  } catch (error) {
    throw renamePathsIn(error, [[absolute, path]]);
  }
}

/** The error with each server path (`[from, to]`) replaced by what the client knows it as; others pass through. */
export function renamePathsIn(error: unknown, renames: ReadonlyArray<readonly [string, string]>): unknown {
  if (!(error instanceof LoraScriptsError)) return error;
  const shown = (text: string | undefined) =>
    text === undefined ? undefined : renames.reduce((result, [from, to]) => result.replaceAll(from, to), text);
  const ErrorClass = error.constructor as typeof LoraScriptsError;
  return new ErrorClass(shown(error.message) ?? error.message, {
    code: error.code,
    culprit: shown(error.culprit),
    hint: shown(error.hint),
    cause: error,
  });
}

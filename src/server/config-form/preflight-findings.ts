// What the pre-flight has found so far, and how its checks report: shared by the checks of the config's inputs and
// the orchestration. Pure but for `safeRealpath`.
import { realpathSync } from 'node:fs';
import type { ConfigProblem } from './config-problems.js';

/** What one run of the pre-flight has found so far; a key in `skipped` has a problem, so later checks leave it. */
export interface Findings {
  problems: ConfigProblem[];
  skipped: Set<string>;
}

export function addProblem(
  found: Findings,
  field: string,
  problem: Omit<ConfigProblem, 'field' | 'blocking'>,
  blocking = true,
) {
  found.problems.push({ field, ...problem, blocking });
  if (blocking) found.skipped.add(field);
}

/** Workspace paths in messages as the client knows them: relative, never the server's folders. */
export function workspaceStripper(workspace: string): (text: string) => string {
  const roots = [workspace, safeRealpath(workspace)].map((root) => `${root.replace(/\/$/, '')}/`);
  return (text) => roots.reduce((result, root) => result.replaceAll(root, ''), text);
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

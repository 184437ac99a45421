// Where a workspace keeps its studio store: one file, so copying the workspace copies the history with it.
import { join } from 'node:path';

export const STORE_FILE = ['.lora-scripts', 'studio.db'] as const;

/** @example workspaceStoreFile('/srv/studio') // '/srv/studio/.lora-scripts/studio.db' */
export function workspaceStoreFile(workspace: string): string {
  return join(workspace, ...STORE_FILE);
}

// `<lora:NAME>` through a workspace's style library, for generate: the promoted version's file, as an absolute path.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type DatabaseLocation, STORE_FILE, workspaceStoreFile } from '../store/index.js';
import { openLibrary } from './open-library.js';

/** Where a workspace's studio store is (the store's own fact, under the name the library's callers use). */
export const WORKSPACE_STORE_FILE = STORE_FILE;

/**
 * A lookup for generate's `libraryLoras`: the library opened per name asked (a generation asks a few), at `database`
 * (default: the workspace's SQLite file). A SQLite file that does not exist yet is not created: a plain `generate`
 * never makes a store.
 * @example runGeneration({ …, libraryLoras: libraryLoraLookup('/abs/workspace', databaseLocation(flags.db, workspace)) })
 */
export function libraryLoraLookup(
  workspace: string,
  database: DatabaseLocation = { kind: 'sqlite', file: workspaceStoreFile(workspace) },
): (name: string) => Promise<string | null> {
  return async (name) => {
    if (database.kind === 'sqlite' && !existsSync(database.file)) return null;
    const library = await openLibrary(database, { workspace });
    try {
      const found = await library.resolveLoraName(name);
      return found === null ? null : join(workspace, found.path);
    } finally {
      await library.close();
    }
  };
}

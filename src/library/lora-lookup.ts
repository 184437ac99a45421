// `<lora:NAME>` through a workspace's style library, for generate: the promoted version's file, as an absolute path.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { STORE_FILE } from '../store/index.js';
import { openSqliteLibrary } from './open-library.js';

/** Where a workspace's studio store is (the store's own fact, under the name the library's callers use). */
export const WORKSPACE_STORE_FILE = STORE_FILE;

/**
 * A lookup for generate's `libraryLoras`: a connection per name asked (a generation asks a few), and none at all
 * where the workspace has no store yet, so a plain `generate` never creates one.
 * @example runGeneration({ …, libraryLoras: libraryLoraLookup('/abs/workspace') })
 */
export function libraryLoraLookup(
  workspace: string,
  storeFile: string = join(workspace, ...WORKSPACE_STORE_FILE),
): (name: string) => Promise<string | null> {
  return async (name) => {
    if (!existsSync(storeFile)) return null;
    const library = openSqliteLibrary(storeFile, { workspace });
    try {
      const found = await library.resolveLoraName(name);
      return found === null ? null : join(workspace, found.path);
    } finally {
      await library.close();
    }
  };
}

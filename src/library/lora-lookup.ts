// `<lora:NAME>` through a workspace's style library, for generate: the promoted version's file, as an absolute path.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSqliteLibrary } from './open-library.js';

/**
 * A lookup for generate's `libraryLoras`: a connection per name asked (a generation asks a few), and none at all
 * where the workspace has no store yet, so a plain `generate` never creates one.
 * @example runGeneration({ …, libraryLoras: libraryLoraLookup('/abs/workspace/.lora-scripts/studio.db', '/abs/workspace') })
 */
export function libraryLoraLookup(storeFile: string, workspace: string): (name: string) => Promise<string | null> {
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

// Confines every path the API reads or writes to the workspace: lexical rules first, then symlinks on disk.
import { lstatSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { splitRelativePath } from './relative-path.js';
import { RequestRefused, showPath } from './refused.js';

/**
 * The absolute, symlink-free path that `requested` (relative, `/`-separated, from a request) names inside the
 * workspace, or a RequestRefused naming it. Paths that do not exist yet (a new output file) are resolved through
 * their deepest existing folder, so a symlinked folder cannot carry them outside. Between this check and the use
 * of the path a local user could still swap a folder for a symlink; the threat here is a remote request, not that.
 */
export function resolveInWorkspace(workspaceRoot: string, requested: string): string {
  const split = splitRelativePath(requested);
  if ('problem' in split) {
    throw new RequestRefused(400, split.problem, { code: 'path_unsafe', culprit: showPath(requested) });
  }
  const root = realpathSync(workspaceRoot);
  const { existing, missing } = deepestExisting(join(root, ...split.segments), requested);
  if (!isInside(root, existing)) {
    throw new RequestRefused(403, 'leads outside the workspace through a symlink; give a path inside the workspace', {
      code: 'path_outside_workspace',
      culprit: showPath(requested),
    });
  }
  return join(existing, ...missing);
}

/** The real path of the deepest part of `path` that exists, and the names below it that do not exist yet. */
function deepestExisting(path: string, requested: string): { existing: string; missing: string[] } {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      return { existing: realpathSync(current), missing };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw unreadable(requested, code);
      // A dangling symlink is missing for realpath but would be followed by a write: refuse it rather than create
      // its target wherever it points.
      if (isSymlink(current)) throw unreadable(requested, 'a symlink to nothing');
      missing.unshift(basename(current));
      current = dirname(current);
    }
  }
}

/** `path` is `root` or below it; `relative` rather than a prefix test, so a workspace at `/` works too. */
function isInside(root: string, path: string): boolean {
  const below = relative(root, path);
  return below !== '..' && !below.startsWith(`..${sep}`) && !isAbsolute(below);
}

function isSymlink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

function unreadable(requested: string, why: string | undefined): RequestRefused {
  return new RequestRefused(403, `cannot be resolved (${why ?? 'unknown error'}); give a plain path in the workspace`, {
    code: 'path_unresolvable',
    culprit: showPath(requested),
  });
}

// The version lifecycle (pure): draft → promoted → retired, at most one promoted version per style.
import { LibraryError } from './library-error.js';
import type { StyleVersion, VersionStatus } from './types.js';

export type LifecycleAction = 'promote' | 'retire';

export interface StatusChange {
  version: number;
  status: VersionStatus;
}

/**
 * The status changes `action` on `version` makes. Promoting retires the version promoted before it, so a style
 * name always means one file; a retired version may be promoted again (rolling back is promoting the old one).
 * Retiring the promoted version leaves the style with none: its name then resolves to nothing (said, not guessed).
 */
export function planStatusChange(
  versions: readonly StyleVersion[],
  version: number,
  action: LifecycleAction,
): StatusChange[] {
  const target = versions.find((v) => v.version === version);
  if (!target) throw new Error(`planStatusChange: version ${version} is not among the versions given`);
  const goal: VersionStatus = action === 'promote' ? 'promoted' : 'retired';
  if (target.status === goal) throw alreadyThere(target, goal);
  if (action === 'retire') return [{ version, status: 'retired' }];
  const previous = versions
    .filter((v) => v.status === 'promoted')
    .map((v) => ({ version: v.version, status: 'retired' as const }));
  return [...previous, { version, status: 'promoted' }];
}

/** The version a style name resolves to, or null when none is promoted. */
export function promotedVersion<T extends Pick<StyleVersion, 'status'>>(versions: readonly T[]): T | null {
  return versions.find((v) => v.status === 'promoted') ?? null;
}

function alreadyThere(version: StyleVersion, status: VersionStatus): LibraryError {
  return new LibraryError(`version ${version.version} is already ${status}`, {
    code: 'illegal_version_transition',
    culprit: `style \`${version.style}\``,
    hint: status === 'promoted' ? 'promote another version to replace it, or retire it' : 'promote it to use it again',
  });
}

// A style's versions as the library page shows them (pure): which buttons a status allows, words typed as a list,
// and what a version's lineage says about where it came from.
import type { StyleVersion, VersionStatus } from '../api/index.js';

/** Promote and retire as the server's lifecycle allows them: never to the status a version already has. */
export function versionActions(status: VersionStatus): { promote: boolean; retire: boolean } {
  return { promote: status !== 'promoted', retire: status !== 'retired' };
}

/** Words typed as `a, b，c` or one per line (English or Chinese commas): trimmed, empty ones and repeats dropped. */
export function splitWords(text: string): string[] {
  const words = text
    .split(/[,，、\n]+/)
    .map((word) => word.trim())
    .filter((word) => word !== '');
  return [...new Set(words)];
}

/** The promoted version, or null: the one a style name resolves to. */
export function promotedOf<T extends Pick<StyleVersion, 'status'>>(versions: readonly T[]): T | null {
  return versions.find((version) => version.status === 'promoted') ?? null;
}

/** Newest version first: the one people look at is the latest. */
export function newestFirst<T extends Pick<StyleVersion, 'version'>>(versions: readonly T[]): T[] {
  return [...versions].sort((a, b) => b.version - a.version);
}

export interface LineageSummary {
  /** The parent LoRA's file name (`init_lora`), when the file was continued from one. */
  parentFile: string | null;
  /** The datasets this run trained on, by name. */
  datasets: string[];
  /** The parent's own ancestors' files, oldest first. */
  ancestors: string[];
}

/**
 * `lineage` is what `train` wrote into the file (`lora_scripts.lineage`), or null for a LoRA made elsewhere; read
 * defensively, since the library keeps whatever the file says.
 */
export function lineageSummary(lineage: unknown): LineageSummary {
  const record = isRecord(lineage) ? lineage : {};
  const parent = isRecord(record.parent_lora) ? record.parent_lora : null;
  const names = (list: unknown, key: string): string[] =>
    Array.isArray(list)
      ? list.flatMap((entry) => (isRecord(entry) && typeof entry[key] === 'string' ? [entry[key] as string] : []))
      : [];
  return {
    parentFile: parent && typeof parent.file === 'string' ? parent.file : null,
    datasets: names(record.datasets, 'name'),
    ancestors: names(record.ancestors, 'file'),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Lineage of a continued LoRA (`init_lora`): its parent, the parent's own ancestors, and what this run added.
// Written as `lora_scripts.lineage` JSON in the LoRA header and as `lineage` in lora_scripts.json. Pure.

export interface DatasetRecord {
  /** The dataset folder's name (never its full path: LoRA files get shared). */
  name: string;
  images: number;
  /** sha256 over the images, captions and repeats (train/training-state.ts `hashDataset`). */
  sha256: string;
}

export interface LineageEntry {
  file: string;
  sha256: string;
  output_name: string | null;
  /** Steps of the run that made this file, when its metadata says. */
  steps: number | null;
  datasets: DatasetRecord[] | null;
}

export interface Lineage {
  parent_lora: LineageEntry | null;
  /** The parent's own parents, oldest first. */
  ancestors: LineageEntry[];
  /** This run. */
  datasets: DatasetRecord[];
  steps: number;
}

/** What the parent file says about itself: its hash, its `ss_*` metadata and its own lineage, if any. */
export interface ParentFacts {
  file: string;
  sha256: string;
  metadata: Readonly<Record<string, string>>;
}

export const LINEAGE_METADATA_KEY = 'lora_scripts.lineage';

function parentLineage(metadata: Readonly<Record<string, string>>): Lineage | null {
  const raw = metadata[LINEAGE_METADATA_KEY];
  if (!raw) return null;
  try {
    return JSON.parse(raw) as Lineage;
  } catch {
    return null; // a foreign or damaged entry: the parent is still named by its hash
  }
}

export function buildLineage(parent: ParentFacts | null, datasets: DatasetRecord[], steps: number): Lineage {
  if (!parent) return { parent_lora: null, ancestors: [], datasets, steps };
  const own = parentLineage(parent.metadata);
  const ssSteps = Number(parent.metadata.ss_steps);
  const entry: LineageEntry = {
    file: parent.file,
    sha256: parent.sha256,
    output_name: parent.metadata.ss_output_name ?? null,
    steps: own?.steps ?? (Number.isInteger(ssSteps) ? ssSteps : null),
    datasets: own?.datasets ?? null,
  };
  const ancestors = own ? [...own.ancestors, ...(own.parent_lora ? [own.parent_lora] : [])] : [];
  return { parent_lora: entry, ancestors, datasets, steps };
}

// The style library's records and the store contract every backend keeps (sqlite-store.ts, postgres-store.ts).

/** draft → promoted → retired; a retired version may be promoted again (a roll-back). lifecycle.ts decides. */
export const VERSION_STATUSES = ['draft', 'promoted', 'retired'] as const;
export type VersionStatus = (typeof VERSION_STATUSES)[number];

/** The place levels from the most specific to the catch-all; a place resolves in this order. */
export const PLACE_LEVELS = ['city', 'province', 'region', 'default'] as const;
export type PlaceLevel = (typeof PLACE_LEVELS)[number];

/** Where a reader is; any part may be unknown. */
export interface Place {
  city?: string;
  province?: string;
  region?: string;
}

export interface Style {
  name: string;
  /** See prompt-template.ts for the placeholders; null: the caller's prompt is used as it is. */
  prompt_template: string | null;
  created_at: string;
}

export interface StyleVersion {
  style: string;
  /** 1, 2, … per style, in the order they were added. */
  version: number;
  /** sha256 of the LoRA file: the version's identity (adding the same bytes again gives the same version). */
  sha256: string;
  /** Workspace-relative path of the library's own copy, `library/<sha256>.safetensors`. */
  lora_path: string;
  /** The file name it was added from (for people; the copy is what is used). */
  source_name: string;
  /** The base model to render with: a workspace-relative path (or hub id) as recorded or given; null when unknown. */
  base_model: string | null;
  /** The version this one was continued from (`init_lora`), when it is a version of this style. */
  parent_version: number | null;
  /** What `train` recorded in the file (`lora_scripts.lineage`), null for a LoRA made elsewhere. */
  lineage: unknown;
  /** Training steps from the file's `ss_steps`, when it says. */
  steps: number | null;
  trigger_words: string[];
  /** The LoRA weight covers and `<lora:NAME>` without a weight use. */
  strength: number;
  /** Workspace-relative paths of sample pictures (a strength grid, covers). */
  sample_grid: string[];
  notes: string;
  tags: string[];
  status: VersionStatus;
  created_at: string;
  status_changed_at: string;
}

/** A place → style rule; a pinned `version` (an event version) wins over the promoted one. */
export interface RegionMapping {
  id: number;
  level: PlaceLevel;
  /** The place's name as given (matched case-insensitively); '' for `default`. */
  place: string;
  style: string;
  version: number | null;
  /** ISO 8601; the rule holds from `from` (inclusive) until `until` (exclusive); null: open. */
  from: string | null;
  until: string | null;
  created_at: string;
}

export type NewRegionMapping = Omit<RegionMapping, 'id' | 'created_at'>;

/** A train job that continues a version; when it is done its LoRA becomes the style's next version. */
export interface Continuation {
  job_id: string;
  style: string;
  parent_version: number;
  /** pending: the job has not ended; added: its LoRA is `version`; ended: the job ended without a LoRA. */
  state: 'pending' | 'added' | 'ended';
  version: number | null;
  created_at: string;
}

export type NewStyleVersion = Omit<StyleVersion, 'version' | 'status' | 'created_at' | 'status_changed_at'>;

/**
 * Row-level storage: no product rules here (those are in lifecycle.ts, regions.ts and style-library.ts). Every
 * method is async so that a networked backend fits; each write is atomic.
 */
export interface LibraryStore {
  getStyle(name: string): Promise<Style | null>;
  listStyles(): Promise<Style[]>;
  /** Creates the style when missing; `prompt_template` undefined keeps the stored one. */
  upsertStyle(name: string, prompt_template: string | null | undefined): Promise<Style>;
  listVersions(style: string): Promise<StyleVersion[]>;
  /** The version with these bytes, if the style has one. */
  findVersionBySha(style: string, sha256: string): Promise<StyleVersion | null>;
  /** Inserts it as the style's next number, as a draft. */
  insertVersion(version: NewStyleVersion): Promise<StyleVersion>;
  /** Applies the status changes together (one promoted per style is also a unique index). */
  setStatuses(style: string, changes: readonly { version: number; status: VersionStatus }[]): Promise<void>;
  updateVersion(
    style: string,
    version: number,
    fields: Partial<Pick<StyleVersion, 'trigger_words' | 'strength' | 'sample_grid' | 'notes' | 'tags' | 'base_model'>>,
  ): Promise<void>;
  listRegions(): Promise<RegionMapping[]>;
  /** Replaces the rule with the same level, place and window, else adds one. */
  upsertRegion(mapping: NewRegionMapping): Promise<RegionMapping>;
  /** false when there was none with that id. */
  deleteRegion(id: number): Promise<boolean>;
  insertContinuation(continuation: Omit<Continuation, 'state' | 'version' | 'created_at'>): Promise<Continuation>;
  listContinuations(state?: Continuation['state']): Promise<Continuation[]>;
  settleContinuation(job_id: string, state: 'added' | 'ended', version: number | null): Promise<void>;
  close(): Promise<void>;
}

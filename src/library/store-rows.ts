// The library's records as both backends store them (SQLite and PostgreSQL keep the same columns: TEXT JSON and
// timestamps), and the mapping between the two, so a record reads back identical from either.
import type { PlaceLevel, RegionMapping, StyleVersion, VersionStatus } from './types.js';

export interface VersionRow {
  style: string;
  version: number;
  sha256: string;
  lora_path: string;
  source_name: string;
  base_model: string | null;
  parent_version: number | null;
  lineage: string | null;
  steps: number | null;
  trigger_words: string;
  strength: number;
  sample_grid: string;
  notes: string;
  tags: string;
  status: string;
  created_at: string;
  status_changed_at: string;
}

export interface RegionRow {
  id: number;
  level: string;
  place: string;
  style: string;
  version: number | null;
  starts_at: string | null;
  ends_at: string | null;
  created_at: string;
}

export function rowToVersion(row: VersionRow): StyleVersion {
  return {
    ...row,
    lineage: row.lineage === null ? null : (JSON.parse(row.lineage) as unknown),
    trigger_words: JSON.parse(row.trigger_words) as string[],
    sample_grid: JSON.parse(row.sample_grid) as string[],
    tags: JSON.parse(row.tags) as string[],
    status: row.status as VersionStatus,
  };
}

export function versionToRow(version: StyleVersion): VersionRow {
  return {
    ...version,
    lineage: version.lineage === null ? null : JSON.stringify(version.lineage),
    trigger_words: JSON.stringify(version.trigger_words),
    sample_grid: JSON.stringify(version.sample_grid),
    tags: JSON.stringify(version.tags),
  };
}

export function rowToRegion(row: RegionRow): RegionMapping {
  return {
    id: row.id,
    level: row.level as PlaceLevel,
    place: row.place,
    style: row.style,
    version: row.version,
    from: row.starts_at,
    until: row.ends_at,
    created_at: row.created_at,
  };
}

/** The fields `LibraryStore.updateVersion` may change. */
export type EditableVersionFields = Partial<
  Pick<StyleVersion, 'trigger_words' | 'strength' | 'sample_grid' | 'notes' | 'tags' | 'base_model'>
>;

/** The given fields as column values (lists as JSON text); an absent field is not in the result. */
export function versionColumnValues(fields: EditableVersionFields): Record<string, string | number | null> {
  const json = (value: unknown) => JSON.stringify(value);
  const values: Record<string, string | number | null> = {};
  if (fields.trigger_words !== undefined) values.trigger_words = json(fields.trigger_words);
  if (fields.sample_grid !== undefined) values.sample_grid = json(fields.sample_grid);
  if (fields.tags !== undefined) values.tags = json(fields.tags);
  if (fields.strength !== undefined) values.strength = fields.strength;
  if (fields.notes !== undefined) values.notes = fields.notes;
  if (fields.base_model !== undefined) values.base_model = fields.base_model;
  return values;
}

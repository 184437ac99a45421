// The regions page's forms as request bodies (pure): a rule to set, a place to resolve, and the time-window fields
// (the browser's `datetime-local`, which has no zone) as ISO times with the reader's own offset.
import type { PlaceLevel, RegionRule, SetRegionBody } from '../api/index.js';

export const PLACE_LEVELS: readonly PlaceLevel[] = ['city', 'province', 'region', 'default'];

export interface RuleForm {
  level: PlaceLevel;
  place: string;
  style: string;
  /** A pinned version number as typed; empty: the promoted one. */
  version: string;
  /** `datetime-local` values; empty: open. */
  from: string;
  until: string;
}

export const EMPTY_RULE: RuleForm = { level: 'city', place: '', style: '', version: '', from: '', until: '' };

/**
 * A `datetime-local` value (`2026-07-01T08:00`) at the given offset (minutes east of UTC, as the reader's clock is)
 * → `2026-07-01T08:00:00+08:00`; empty → null.
 */
export function localInputToIso(value: string, offsetMinutes: number): string | null {
  const trimmed = value.trim();
  if (trimmed === '') return null;
  const withSeconds = /T\d{2}:\d{2}$/.test(trimmed) ? `${trimmed}:00` : trimmed;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${withSeconds}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

/** An ISO time → the `datetime-local` value showing it on the reader's clock (offset as above); null → ''. */
export function isoToLocalInput(iso: string | null, offsetMinutes: number): string {
  if (iso === null) return '';
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return '';
  return new Date(time + offsetMinutes * 60_000).toISOString().slice(0, 16);
}

/** The reader's offset now, minutes east of UTC (JavaScript's own sign is the other way round). */
export function localOffsetMinutes(at: Date = new Date()): number {
  return -at.getTimezoneOffset();
}

export function ruleBody(form: RuleForm, offsetMinutes: number): SetRegionBody {
  const version = form.version.trim();
  return {
    level: form.level,
    ...(form.level === 'default' ? {} : { place: form.place.trim() }),
    style: form.style.trim(),
    version: version === '' ? null : Number(version),
    from: localInputToIso(form.from, offsetMinutes),
    until: localInputToIso(form.until, offsetMinutes),
  };
}

/** A stored rule back into the form, to edit it. */
export function ruleForm(rule: RegionRule, offsetMinutes: number): RuleForm {
  return {
    level: rule.level,
    place: rule.place,
    style: rule.style,
    version: rule.version === null ? '' : String(rule.version),
    from: isoToLocalInput(rule.from, offsetMinutes),
    until: isoToLocalInput(rule.until, offsetMinutes),
  };
}

export interface PlaceQuery {
  city: string;
  province: string;
  region: string;
  /** `datetime-local`; empty: now. */
  at: string;
}

/** `/api/library/resolve?…` for the parts given. */
export function resolvePath(query: PlaceQuery, offsetMinutes: number): string {
  const params = new URLSearchParams();
  for (const key of ['city', 'province', 'region'] as const) {
    const value = query[key].trim();
    if (value !== '') params.set(key, value);
  }
  const at = localInputToIso(query.at, offsetMinutes);
  if (at !== null) params.set('at', at);
  const text = params.toString();
  return `/api/library/resolve${text === '' ? '' : `?${text}`}`;
}

/** Rules in the order a place falls back through them: city, province, region, default; by place within a level. */
export function inFallbackOrder(rules: readonly RegionRule[]): RegionRule[] {
  const rank = (level: PlaceLevel) => PLACE_LEVELS.indexOf(level);
  return [...rules].sort((a, b) => rank(a.level) - rank(b.level) || a.place.localeCompare(b.place) || a.id - b.id);
}

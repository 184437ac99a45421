// Place → style resolution (pure): city, then province, then region, then the default; within a level a rule with
// a time window that holds now (an event version) wins over an open-ended one.
import { LibraryError } from './library-error.js';
import { type NewRegionMapping, PLACE_LEVELS, type Place, type PlaceLevel, type RegionMapping } from './types.js';

export interface RegionCandidate {
  mapping: RegionMapping;
  matched: PlaceLevel;
}

/** Place names match whatever their case or Unicode form (`Suzhou`, `suzhou `, `苏州` as typed). */
export function placeKey(name: string): string {
  return name.normalize('NFKC').trim().toLowerCase();
}

export function isActiveAt(mapping: Pick<RegionMapping, 'from' | 'until'>, at: Date): boolean {
  const time = at.getTime();
  if (mapping.from !== null && time < Date.parse(mapping.from)) return false;
  if (mapping.until !== null && time >= Date.parse(mapping.until)) return false;
  return true;
}

/**
 * Every rule that applies to `place` at `at`, best first: by level (city → province → region → default), then a
 * windowed rule before an open-ended one, then the later start, then the newer rule. The caller takes the first
 * whose style has a version to use.
 */
export function regionCandidates(mappings: readonly RegionMapping[], place: Place, at: Date): RegionCandidate[] {
  const wanted: Record<PlaceLevel, string | null> = {
    city: place.city ? placeKey(place.city) : null,
    province: place.province ? placeKey(place.province) : null,
    region: place.region ? placeKey(place.region) : null,
    default: '',
  };
  return PLACE_LEVELS.flatMap((level) =>
    mappings
      .filter((m) => m.level === level && wanted[level] !== null && placeKey(m.place) === wanted[level])
      .filter((m) => isActiveAt(m, at))
      .sort(byPreference)
      .map((mapping) => ({ mapping, matched: level })),
  );
}

function byPreference(a: RegionMapping, b: RegionMapping): number {
  const windowed = (m: RegionMapping) => (m.from !== null || m.until !== null ? 1 : 0);
  const start = (m: RegionMapping) => (m.from === null ? Number.NEGATIVE_INFINITY : Date.parse(m.from));
  return windowed(b) - windowed(a) || start(b) - start(a) || b.id - a.id;
}

export interface RegionRuleInput {
  level: PlaceLevel;
  place?: string | null;
  style: string;
  version?: number | null;
  from?: string | null;
  until?: string | null;
}

/** A rule as given → the rule to store; refuses a place on `default`, none elsewhere, and a window that is empty. */
export function checkRegionRule(input: RegionRuleInput): NewRegionMapping {
  const place = (input.place ?? '').trim();
  if (input.level === 'default' && place !== '')
    throw invalidRegion('place', 'the default rule takes no place', 'leave the place out');
  if (input.level !== 'default' && place === '') {
    throw invalidRegion('place', `a ${input.level} rule needs the ${input.level}'s name`, `give --${input.level} NAME`);
  }
  const from = checkTime(input.from ?? null, 'from');
  const until = checkTime(input.until ?? null, 'until');
  if (from !== null && until !== null && Date.parse(from) >= Date.parse(until)) {
    throw invalidRegion(
      'until',
      `\`until\` (${until}) is not after \`from\` (${from})`,
      'give a window that ends after it starts',
    );
  }
  return { level: input.level, place, style: input.style, version: input.version ?? null, from, until };
}

/** ISO 8601 with a time zone (`2026-07-01T00:00:00+08:00`) or a date (`2026-07-01`, midnight UTC), kept as UTC ISO. */
function checkTime(value: string | null, field: 'from' | 'until'): string | null {
  if (value === null) return null;
  const isIso = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/.test(value);
  const time = Date.parse(value);
  if (!isIso || Number.isNaN(time)) {
    throw invalidRegion(
      field,
      `\`${field}\` is not a date or time: \`${value}\``,
      'write `2026-07-01` or `2026-07-01T08:00:00+08:00`',
    );
  }
  return new Date(time).toISOString();
}

function invalidRegion(field: string, message: string, hint: string): LibraryError {
  return new LibraryError(message, { code: 'invalid_region', culprit: field, hint });
}

// The library and regions pages' pure side: version buttons, word lists, lineage, rule bodies (checked against the
// server's own schema), time-window fields and place queries.
import { describe, expect, it } from 'vitest';
import { setRegionBodySchema } from '../../../src/server/routes/library-schemas.js';
import type { RegionRule } from '../api/index.js';
import {
  EMPTY_RULE,
  inFallbackOrder,
  isoToLocalInput,
  lineageSummary,
  localInputToIso,
  newestFirst,
  promotedOf,
  resolvePath,
  ruleBody,
  ruleForm,
  splitWords,
  versionActions,
} from './index.js';

describe('versions', () => {
  it('offers promote and retire except towards the status a version already has', () => {
    expect(versionActions('draft')).toEqual({ promote: true, retire: true });
    expect(versionActions('promoted')).toEqual({ promote: false, retire: true });
    expect(versionActions('retired')).toEqual({ promote: true, retire: false });
  });

  it('splits words on English and Chinese commas and lines, dropping blanks and repeats', () => {
    expect(splitWords('jiangnan style，water town、 canal\n\njiangnan style, ')).toEqual([
      'jiangnan style',
      'water town',
      'canal',
    ]);
    expect(splitWords('  ')).toEqual([]);
  });

  it('finds the promoted version and orders the newest first', () => {
    const versions = [
      { version: 1, status: 'retired' as const },
      { version: 3, status: 'draft' as const },
      { version: 2, status: 'promoted' as const },
    ];
    expect(promotedOf(versions)?.version).toBe(2);
    expect(promotedOf([{ status: 'draft' as const }])).toBeNull();
    expect(newestFirst(versions).map((v) => v.version)).toEqual([3, 2, 1]);
  });

  it("reads train's lineage record, and nothing from a LoRA made elsewhere", () => {
    const lineage = {
      parent_lora: { file: 'jiangnan_style.safetensors', sha256: 'ab', output_name: null, steps: 250, datasets: null },
      ancestors: [{ file: 'first.safetensors', sha256: 'cd', output_name: null, steps: null, datasets: null }],
      datasets: [{ name: '雨中江南', images: 12, sha256: 'ef' }],
      steps: 40,
    };
    expect(lineageSummary(lineage)).toEqual({
      parentFile: 'jiangnan_style.safetensors',
      datasets: ['雨中江南'],
      ancestors: ['first.safetensors'],
    });
    for (const nothing of [null, 'text', [], { parent_lora: 3, datasets: 'x' }]) {
      expect(lineageSummary(nothing)).toEqual({ parentFile: null, datasets: [], ancestors: [] });
    }
  });
});

describe('time windows', () => {
  it("writes a datetime-local value with the reader's offset, east or west of UTC", () => {
    expect(localInputToIso('2026-07-01T08:00', 480)).toBe('2026-07-01T08:00:00+08:00');
    expect(localInputToIso('2026-07-01T08:00', -330)).toBe('2026-07-01T08:00:00-05:30');
    expect(localInputToIso('2026-07-01T08:00:30', 0)).toBe('2026-07-01T08:00:30+00:00');
    expect(localInputToIso(' ', 480)).toBeNull();
  });

  it('shows a stored UTC time on the same clock again', () => {
    const iso = new Date(Date.parse(localInputToIso('2026-07-01T08:00', 480)!)).toISOString();
    expect(iso).toBe('2026-07-01T00:00:00.000Z');
    expect(isoToLocalInput(iso, 480)).toBe('2026-07-01T08:00');
    expect(isoToLocalInput(iso, -300)).toBe('2026-06-30T19:00');
    expect(isoToLocalInput(null, 480)).toBe('');
  });
});

describe('rules', () => {
  const rule = (id: number, level: RegionRule['level'], place: string): RegionRule => ({
    id,
    level,
    place,
    style: 'jiangnan_style',
    version: null,
    from: null,
    until: null,
    created_at: '2026-12-06T00:00:00.000Z',
  });

  it('sends a rule the server accepts: no place for the default, numbers and windows as it wants them', () => {
    const city = ruleBody({ ...EMPTY_RULE, place: ' 杭州 ', style: 'jiangnan_style', version: '2' }, 480);
    expect(city).toEqual({
      level: 'city',
      place: '杭州',
      style: 'jiangnan_style',
      version: 2,
      from: null,
      until: null,
    });
    const event = ruleBody(
      { level: 'default', place: 'ignored', style: 'rainy', version: '', from: '2026-07-01T00:00', until: '' },
      480,
    );
    expect(event).toEqual({
      level: 'default',
      style: 'rainy',
      version: null,
      from: '2026-07-01T00:00:00+08:00',
      until: null,
    });
    for (const body of [city, event]) expect(setRegionBodySchema.safeParse(body).success).toBe(true);
  });

  it('round-trips a stored rule through the edit form', () => {
    const stored = { ...rule(4, 'province', '浙江'), version: 3, from: '2026-07-01T00:00:00.000Z' };
    const form = ruleForm(stored, 480);
    expect(form).toEqual({
      level: 'province',
      place: '浙江',
      style: 'jiangnan_style',
      version: '3',
      from: '2026-07-01T08:00',
      until: '',
    });
    expect(Date.parse(ruleBody(form, 480).from!)).toBe(Date.parse(stored.from));
  });

  it('lists rules in the order a place falls back through them', () => {
    const rules = [rule(1, 'default', ''), rule(2, 'region', '江南'), rule(3, 'city', '苏州'), rule(4, 'city', '杭州')];
    expect(inFallbackOrder(rules).map((r) => r.id)).toEqual([4, 3, 2, 1]);
  });

  it('asks the resolve route only for the parts given', () => {
    expect(resolvePath({ city: ' 杭州 ', province: '', region: '江南', at: '' }, 480)).toBe(
      `/api/library/resolve?city=${encodeURIComponent('杭州')}&region=${encodeURIComponent('江南')}`,
    );
    expect(resolvePath({ city: '', province: '', region: '', at: '2026-07-01T08:00' }, 0)).toBe(
      `/api/library/resolve?at=${encodeURIComponent('2026-07-01T08:00:00+00:00')}`,
    );
    expect(resolvePath({ city: '', province: '', region: '', at: '' }, 0)).toBe('/api/library/resolve');
  });
});

// Place → style rules: city → province → region → default, and time windows that let an event rule win.
import { describe, expect, it } from 'vitest';
import { checkRegionRule, isActiveAt, placeKey, regionCandidates } from './regions.js';
import type { RegionMapping } from './types.js';

let nextId = 1;
function rule(fields: Partial<RegionMapping> & Pick<RegionMapping, 'level' | 'style'>): RegionMapping {
  return { id: nextId++, place: '', version: null, from: null, until: null, created_at: '', ...fields };
}

const RULES = [
  rule({ level: 'default', style: 'generic' }),
  rule({ level: 'region', place: 'East China', style: 'east' }),
  rule({ level: 'province', place: 'Zhejiang', style: 'jiangnan' }),
  rule({ level: 'city', place: 'Chengdu', style: 'hotpot' }),
];
const NOW = new Date('2026-07-10T12:00:00Z');
const first = (place: Parameters<typeof regionCandidates>[1], rules = RULES, at = NOW) => {
  const [best] = regionCandidates(rules, place, at);
  return best ? { style: best.mapping.style, matched: best.matched } : null;
};

describe('regionCandidates', () => {
  it('takes the most specific level the place has a rule for', () => {
    expect(first({ city: 'Chengdu', province: 'Sichuan' })).toEqual({ style: 'hotpot', matched: 'city' });
    expect(first({ city: 'Hangzhou', province: 'Zhejiang', region: 'East China' })).toEqual({
      style: 'jiangnan',
      matched: 'province',
    });
    expect(first({ city: 'Nanjing', province: 'Jiangsu', region: 'East China' })).toEqual({
      style: 'east',
      matched: 'region',
    });
    expect(first({ city: 'Lhasa' })).toEqual({ style: 'generic', matched: 'default' });
    expect(first({})).toEqual({ style: 'generic', matched: 'default' });
  });

  it('lists every applicable rule best first, so a rule whose style has no version can be skipped', () => {
    const all = regionCandidates(RULES, { city: 'Hangzhou', province: 'zhejiang', region: 'east china' }, NOW);
    expect(all.map((c) => c.matched)).toEqual(['province', 'region', 'default']);
  });

  it('has no answer when there is no default and no level matches', () => {
    expect(first({ city: 'Lhasa' }, RULES.slice(1))).toBeNull();
  });

  it('matches names whatever their case, spacing or width', () => {
    expect(placeKey('  ZheJiang ')).toBe('zhejiang');
    expect(placeKey('Ｓｕｚｈｏｕ')).toBe('suzhou');
    expect(first({ province: 'ZHEJIANG' })?.style).toBe('jiangnan');
  });

  it('lets a windowed rule win at its level while the window holds, and only then', () => {
    const event = rule({
      level: 'province',
      place: 'Zhejiang',
      style: 'rainy_jiangnan',
      from: '2026-07-01T00:00:00.000Z',
      until: '2026-07-15T00:00:00.000Z',
    });
    const rules = [...RULES, event];
    expect(first({ province: 'Zhejiang' }, rules, new Date('2026-07-01T00:00:00Z'))?.style).toBe('rainy_jiangnan');
    expect(first({ province: 'Zhejiang' }, rules, new Date('2026-07-14T23:59:59Z'))?.style).toBe('rainy_jiangnan');
    // `until` is exclusive; before `from` the ordinary rule holds
    expect(first({ province: 'Zhejiang' }, rules, new Date('2026-07-15T00:00:00Z'))?.style).toBe('jiangnan');
    expect(first({ province: 'Zhejiang' }, rules, new Date('2026-06-30T23:59:59Z'))?.style).toBe('jiangnan');
    // a city rule still beats a province event: levels first, windows within a level
    const city = rule({ level: 'city', place: 'Hangzhou', style: 'west_lake' });
    expect(first({ city: 'Hangzhou', province: 'Zhejiang' }, [...rules, city])?.style).toBe('west_lake');
  });

  it('prefers the later-starting of two windows that both hold (an event within an event)', () => {
    const month = rule({
      level: 'default',
      style: 'summer',
      from: '2026-07-01T00:00:00Z',
      until: '2026-08-01T00:00:00Z',
    });
    const week = rule({
      level: 'default',
      style: 'festival',
      from: '2026-07-08T00:00:00Z',
      until: '2026-07-12T00:00:00Z',
    });
    expect(first({}, [RULES[0]!, month, week])?.style).toBe('festival');
    expect(first({}, [RULES[0]!, month, week], new Date('2026-07-20T00:00:00Z'))?.style).toBe('summer');
  });
});

describe('isActiveAt', () => {
  it('treats a missing end of the window as open', () => {
    expect(isActiveAt({ from: null, until: '2026-01-01T00:00:00Z' }, NOW)).toBe(false);
    expect(isActiveAt({ from: '2026-01-01T00:00:00Z', until: null }, NOW)).toBe(true);
  });
});

describe('checkRegionRule', () => {
  it('keeps times as UTC ISO and reads a bare date as midnight UTC', () => {
    expect(
      checkRegionRule({
        level: 'city',
        place: ' Suzhou ',
        style: 's',
        from: '2026-07-01',
        until: '2026-07-02T08:00:00+08:00',
      }),
    ).toEqual({
      level: 'city',
      place: 'Suzhou',
      style: 's',
      version: null,
      from: '2026-07-01T00:00:00.000Z',
      until: '2026-07-02T00:00:00.000Z',
    });
  });

  it('refuses a place on the default rule, none elsewhere, a bad time and an empty window', () => {
    expect(() => checkRegionRule({ level: 'default', place: 'x', style: 's' })).toThrow(
      'the default rule takes no place',
    );
    expect(() => checkRegionRule({ level: 'city', style: 's' })).toThrow("a city rule needs the city's name");
    expect(() => checkRegionRule({ level: 'city', place: 'a', style: 's', from: 'tomorrow' })).toThrow(
      '`from` is not a date or time: `tomorrow`',
    );
    expect(() =>
      checkRegionRule({ level: 'city', place: 'a', style: 's', from: '2026-07-02', until: '2026-07-01' }),
    ).toThrow(expect.objectContaining({ code: 'invalid_region', culprit: 'until' }));
  });
});

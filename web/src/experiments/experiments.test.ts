// The experiments pages' pure side against the server's own code: the form's body passes the server's schema, the
// CSV template parses with the server's parser, and the verdict sentence is built from real reports.
import { describe, expect, it } from 'vitest';
import {
  analyseExperiment,
  experimentReportSchema,
  newExperimentSchema,
  parseCountsCsv,
} from '../../../src/experiments/index.js';
import { resolveExperiment } from '../../../src/experiments/store.js';
import { translate } from '../i18n/index.js';
import {
  countsCsvTemplate,
  experimentBody,
  formatInterval,
  formatLift,
  formatPercent,
  formatPValue,
  STARTING_FORM,
  verdictMessage,
} from './index.js';

describe('numbers', () => {
  it('prints rates, signed lifts, intervals and p-values', () => {
    expect(formatPercent(0.0615)).toBe('6.15 %');
    expect(formatLift(0.23)).toBe('+23.0 %');
    expect(formatLift(-0.052)).toBe('−5.2 %');
    expect(formatLift(null)).toBe('—');
    expect(formatInterval([0.1, 0.35], (v) => formatLift(v))).toBe('+10.0 % … +35.0 %');
    expect(formatInterval(null, String)).toBe('—');
    expect(formatPValue(0.04321)).toBe('0.0432');
    expect(formatPValue(2.2806e-15)).toBe('2.3e-15');
  });
});

describe('the new-experiment form', () => {
  it('sends what the server accepts, skipping unnamed arms and turning percent into fractions', () => {
    const body = experimentBody({
      ...STARTING_FORM,
      id: ' jiangnan-cover ',
      arms: [
        { name: 'generic', weight: '', style: '', strength: '' },
        { name: 'regional', weight: '1', style: 'jiangnan_style', strength: '0.7' },
        { name: ' ', weight: '1', style: '', strength: '' },
      ],
      baselineCtrPercent: '5',
      minLiftPercent: '23',
    });
    expect(body).toEqual({
      id: 'jiangnan-cover',
      arms: [
        { name: 'generic', weight: 1 },
        { name: 'regional', weight: 1, style: 'jiangnan_style', strength: 0.7 },
      ],
      baseline_ctr: 0.05,
      min_detectable_lift: 0.23,
    });
    expect(newExperimentSchema.safeParse(body).success).toBe(true);
  });

  it("offers a counts CSV the server's parser reads", () => {
    const csv = countsCsvTemplate(['generic', 'regional'], '2026-12-01');
    expect(parseCountsCsv(csv, ['generic', 'regional'])).toEqual([
      { day: '2026-12-01', segment: null, arm: 'generic', users: 0, clicks: 0 },
      { day: '2026-12-01', segment: null, arm: 'regional', users: 0, clicks: 0 },
    ]);
  });
});

describe('the verdict in words', () => {
  const arms = [
    { name: 'generic', weight: 1 },
    { name: 'regional', weight: 1 },
  ];
  const unplanned = resolveExperiment({ id: 'covers', arms }, '2026-12-06T10:00:00.000Z');
  const planned = resolveExperiment(
    { id: 'covers', arms, baseline_ctr: 0.05, min_detectable_lift: 0.23 },
    '2026-12-06T10:00:00.000Z',
  );
  const day = (arm: string, users: number, clicks: number) => ({
    day: '2026-12-01',
    segment: null,
    arm,
    users,
    clicks,
  });
  const overall = (experiment: typeof planned, rows: ReturnType<typeof day>[]) =>
    experimentReportSchema.parse(analyseExperiment(experiment, rows)).overall;

  it('ships the regional cover with its rates, lift and p-value, in both languages', () => {
    const scope = overall(unplanned, [day('generic', 50_000, 2500), day('regional', 50_000, 3075)]);
    const message = verdictMessage(scope, 'generic', null);
    expect(message.key).toBe('experiments.verdict.ship');
    expect(message.testKey).toBe('experiments.test.sequential');
    expect(message.vars).toMatchObject({ arm: 'regional', ctr: '6.15 %', controlCtr: '5.00 %', lift: '+23.0 %' });
    expect(translate('en', message.key, message.vars)).toMatch(
      /^regional gets more clicks: CTR 6\.15 % against 5\.00 %/,
    );
    expect(translate('zh-CN', message.key, message.vars)).toContain('提升 +23.0 %');
  });

  it('holds the verdict back on a sample ratio mismatch, and says how far a planned run has come', () => {
    const srm = overall(unplanned, [day('generic', 52_000, 2600), day('regional', 48_000, 2400)]);
    expect(verdictMessage(srm, 'generic', null).key).toBe('experiments.verdict.held_back');
    const early = overall(planned, [day('generic', 1000, 50), day('regional', 1000, 52)]);
    const message = verdictMessage(early, 'generic', planned.planned_users_per_arm);
    expect(message.key).toBe('experiments.verdict.keep_running_planned');
    expect(message.vars).toMatchObject({ users: 1000, planned: planned.planned_users_per_arm! });
  });
});

import { describe, expect, it } from 'vitest';
import { analyseExperiment } from './analysis.js';
import type { DailyCount, Experiment } from './model.js';
import { experimentReportSchema } from './report.js';
import { seededRandom, simulateDailyCounts } from './simulate.js';
import { holmAdjust } from './stats/holm.js';
import { resolveExperiment } from './store.js';

const ARMS = [
  { name: 'generic', weight: 1 },
  { name: 'regional', weight: 1 },
];
const unplanned: Experiment = resolveExperiment({ id: 'covers', arms: ARMS }, '2026-12-06T10:00:00.000Z');
const planned: Experiment = resolveExperiment(
  { id: 'covers', arms: ARMS, baseline_ctr: 0.05, min_detectable_lift: 0.23 },
  '2026-12-06T10:00:00.000Z',
);

const day = (arm: string, users: number, clicks: number, segment: string | null = null, date = '2026-12-01') =>
  ({ day: date, segment, arm, users, clicks }) satisfies DailyCount;

function report(experiment: Experiment, rows: DailyCount[]) {
  // every report is also checked against the schema the API declares
  return experimentReportSchema.parse(analyseExperiment(experiment, rows));
}

describe('analyseExperiment', () => {
  it('the worked example without a plan: the sequential test ships the regional cover', () => {
    const result = report(unplanned, [day('generic', 50_000, 2500), day('regional', 50_000, 3075)]);
    const [comparison] = result.overall.comparisons;
    expect(result.overall.arms.map((arm) => arm.ctr)).toEqual([0.05, 0.0615]);
    expect(comparison!.lift).toBeCloseTo(0.23, 12);
    expect(comparison!.fixed.p_value).toBeCloseTo(2.2806e-15, 18);
    expect(comparison!.sequential.p_value).toBeCloseTo(3.47e-13, 15);
    expect(result.sequential_tuning_users).toBe(5000);
    expect(result.overall.verdict).toMatchObject({ decision: 'ship', arm: 'regional', test: 'sequential' });
    expect(result.overall.verdict.reason).toContain('regional CTR 6.15 % vs generic 5.00 % (+23.0 % relative)');
    expect(result.segments).toEqual([]);
  });

  it('the borderline example without a plan keeps running: fixed p 0.032, but the sequential test says not yet', () => {
    const result = report(unplanned, [day('generic', 50_000, 2500), day('regional', 50_000, 2650)]);
    const [comparison] = result.overall.comparisons;
    expect(comparison!.fixed.p_value).toBeLessThan(0.05);
    expect(comparison!.sequential.p_value).toBe(1);
    expect(result.overall.verdict).toMatchObject({ decision: 'keep_running', test: 'sequential' });
  });

  it('once the planned users are reached the fixed test decides: no difference for 5.00 % vs 5.02 %', () => {
    expect(planned.planned_users_per_arm).toBe(6248);
    const result = report(planned, [day('generic', 7000, 350), day('regional', 7000, 352)]);
    expect(result.overall.verdict).toMatchObject({ decision: 'no_difference', arm: null, test: 'fixed' });
    expect(result.overall.verdict.reason).toContain('planned users reached');
  });

  it('keeps the control when the treatment is significantly worse', () => {
    const result = report(planned, [day('generic', 7000, 420), day('regional', 7000, 300)]);
    expect(result.overall.verdict).toMatchObject({ decision: 'keep_control', arm: 'generic', test: 'fixed' });
  });

  it('before the planned users, reports progress and keeps running', () => {
    const result = report(planned, [day('generic', 1000, 50), day('regional', 1000, 55)]);
    expect(result.overall.verdict.decision).toBe('keep_running');
    expect(result.overall.verdict.reason).toContain('1000 of 6248 planned generic users');
  });

  it('holds the verdict back on a 52/48 split of 100,000 users and says why', () => {
    const result = report(unplanned, [day('generic', 52_000, 2600), day('regional', 48_000, 3500)]);
    expect(result.overall.srm.mismatch).toBe(true);
    expect(result.overall.srm.p_value).toBeLessThan(1e-30);
    expect(result.overall.verdict).toMatchObject({ decision: 'held_back', arm: null, test: null });
    expect(result.overall.verdict.reason).toMatch(
      /^sample ratio mismatch: users per arm \(generic 52000, regional 48000\)/,
    );
  });

  it('with several regions: one report each, p-values Holm-corrected across them', () => {
    const rows = [
      day('generic', 20_000, 1000, 'jiangsu'),
      day('regional', 20_000, 1230, 'jiangsu'),
      day('generic', 20_000, 1000, 'sichuan'),
      day('regional', 20_000, 1060, 'sichuan'),
      day('generic', 20_000, 1000, 'zhejiang'),
      day('regional', 20_000, 1090, 'zhejiang'),
    ];
    const result = report(unplanned, rows);
    expect(result.segments.map((segment) => segment.segment)).toEqual(['jiangsu', 'sichuan', 'zhejiang']);
    const comparisons = result.segments.map((segment) => segment.comparisons[0]!);
    const fixed = comparisons.map((each) => each.fixed.p_value);
    expect(comparisons.map((each) => each.fixed.p_value_holm)).toEqual(holmAdjust(fixed));
    const sequential = comparisons.map((each) => each.sequential.p_value);
    expect(comparisons.map((each) => each.sequential.p_value_holm)).toEqual(holmAdjust(sequential));
    // zhejiang alone has p ≈ 0.03, which the correction for three regions lifts above 0.05
    expect(comparisons[2]!.fixed.p_value).toBeLessThan(0.05);
    expect(comparisons[2]!.fixed.p_value_holm).toBeGreaterThan(0.05);
    expect(result.segments[0]!.verdict).toMatchObject({ decision: 'ship', arm: 'regional' });
    expect(result.overall.arms.map((arm) => arm.users)).toEqual([60_000, 60_000]);
  });

  it('an arm with no users yet: keep running, no NaN anywhere', () => {
    const result = report(unplanned, [day('generic', 10, 1)]);
    expect(result.overall.verdict).toMatchObject({ decision: 'keep_running', reason: 'no users yet in regional' });
    expect(JSON.stringify(result)).not.toMatch(/null,null|NaN/);
    expect(report(unplanned, []).overall.days).toBe(0);
  });

  it('simulated traffic with a true +23 % lift, daily looks: the sequential test ships it within the month', () => {
    const rows = simulateDailyCounts(seededRandom(7), {
      days: 30,
      usersPerDay: 1000,
      arms: [
        { name: 'generic', weight: 1, ctr: 0.05 },
        { name: 'regional', weight: 1, ctr: 0.0615 },
      ],
    });
    const result = report(planned, rows);
    expect(result.overall.days).toBe(30);
    expect(result.overall.verdict).toMatchObject({ decision: 'ship', arm: 'regional' });
  });
});

// Daily counts → the report: per-arm CTRs, each treatment against the control with the fixed and the sequential
// test, Holm across regions, the sample-ratio check and the verdict. Pure: the store gives the counts.
import type { DailyCount, Experiment } from './model.js';
import type { ExperimentReport, ScopeReport, Verdict } from './report.js';
import { holmAdjust } from './stats/holm.js';
import { usersForLift } from './stats/planner.js';
import {
  type ArmCounts,
  type Interval,
  rateOf,
  relativeLift,
  twoProportionTest,
  wilsonInterval,
} from './stats/proportions.js';
import { DEFAULT_TUNING_USERS, runningConfidenceSequence, type SequentialLook } from './stats/sequential.js';
import { sampleRatioCheck } from './stats/srm.js';

/** The users each arm needs for the experiment's planned lift, or null when it has no plan. */
export function plannedUsers(
  experiment: Pick<Experiment, 'arms' | 'control' | 'alpha' | 'power'> & {
    baseline_ctr: number | null;
    min_detectable_lift: number | null;
  },
): Map<string, number> | null {
  if (experiment.baseline_ctr === null || experiment.min_detectable_lift === null) return null;
  const control = experiment.arms.find((arm) => arm.name === experiment.control)!;
  const planned = new Map<string, number>();
  for (const arm of experiment.arms) {
    if (arm.name === control.name) continue;
    const needed = usersForLift({
      baselineRate: experiment.baseline_ctr,
      relativeLift: experiment.min_detectable_lift,
      alpha: experiment.alpha,
      power: experiment.power,
      treatmentRatio: arm.weight / control.weight,
    });
    planned.set(arm.name, needed.treatment);
    planned.set(control.name, Math.max(planned.get(control.name) ?? 0, needed.control));
  }
  return planned;
}

interface Scope {
  segment: string | null;
  rows: readonly DailyCount[];
}

interface RawComparison {
  arm: string;
  control: ArmCounts;
  treatment: ArmCounts;
  fixedP: number;
  sequentialP: number;
  build: (holmFixed: number, holmSequential: number) => ScopeReport['comparisons'][number];
}

export function analyseExperiment(experiment: Experiment, counts: readonly DailyCount[]): ExperimentReport {
  const planned = plannedUsers(experiment);
  const tuning = tuningUsers(experiment, planned);
  const segmentNames = [...new Set(counts.map((row) => row.segment))].sort(compareSegments);
  const overall = analyseScope(experiment, { segment: null, rows: counts }, tuning);
  const segments =
    segmentNames.length > 1 || (segmentNames.length === 1 && segmentNames[0] !== null)
      ? segmentNames.map((segment) =>
          analyseScope(experiment, { segment, rows: counts.filter((row) => row.segment === segment) }, tuning),
        )
      : [];
  return {
    experiment_id: experiment.id,
    control: experiment.control,
    alpha: experiment.alpha,
    planned_users_per_arm: planned?.get(experiment.control) ?? null,
    sequential_tuning_users: tuning,
    overall: finishScopes(experiment, [overall], planned)[0]!,
    segments: finishScopes(experiment, segments, planned),
  };
}

/** N*: the total users of a control–treatment pair at the planned size (where decisions are made), else 5000. */
function tuningUsers(experiment: Experiment, planned: Map<string, number> | null): number {
  if (planned === null) return DEFAULT_TUNING_USERS;
  const treatments = experiment.arms.filter((arm) => arm.name !== experiment.control);
  const pairs = treatments.map((arm) => planned.get(experiment.control)! + planned.get(arm.name)!);
  return Math.max(...pairs);
}

const compareSegments = (a: string | null, b: string | null) => (a ?? '').localeCompare(b ?? '');

interface ScopeParts {
  segment: string | null;
  days: number;
  arms: ScopeReport['arms'];
  srm: ScopeReport['srm'];
  raw: RawComparison[];
}

function analyseScope(experiment: Experiment, scope: Scope, tuning: number): ScopeParts {
  const days = [...new Set(scope.rows.map((row) => row.day))].sort();
  const looks = cumulativeLooks(experiment, scope.rows, days);
  const totals = looks.at(-1) ?? new Map(experiment.arms.map((arm) => [arm.name, { users: 0, clicks: 0 }]));
  const arms = experiment.arms.map((arm) => {
    const counts = totals.get(arm.name)!;
    return { arm: arm.name, ...counts, ctr: rateOf(counts), ctr_interval: wilsonInterval(counts, experiment.alpha) };
  });
  const weights = experiment.arms.map((arm) => arm.weight);
  const check = sampleRatioCheck(
    arms.map((arm) => arm.users),
    weights,
  );
  const weightSum = weights.reduce((sum, weight) => sum + weight, 0);
  const srm = {
    chi_square: check.chiSquare,
    degrees_of_freedom: check.degreesOfFreedom,
    p_value: check.pValue,
    mismatch: check.mismatch,
    expected_shares: Object.fromEntries(experiment.arms.map((arm) => [arm.name, arm.weight / weightSum])),
  };
  const raw = experiment.arms
    .filter((arm) => arm.name !== experiment.control)
    .map((arm) => compareArms(experiment, arm.name, looks, tuning));
  return { segment: scope.segment, days: days.length, arms, srm, raw };
}

/** Counts per arm at the end of each day, cumulative: the looks of the sequential test. */
function cumulativeLooks(experiment: Experiment, rows: readonly DailyCount[], days: readonly string[]) {
  const running = new Map(experiment.arms.map((arm) => [arm.name, { users: 0, clicks: 0 }]));
  const byDay = new Map<string, DailyCount[]>();
  for (const row of rows) byDay.set(row.day, [...(byDay.get(row.day) ?? []), row]);
  return days.map((day) => {
    for (const row of byDay.get(day) ?? []) {
      const arm = running.get(row.arm);
      if (arm === undefined) continue;
      arm.users += row.users;
      arm.clicks += row.clicks;
    }
    return new Map([...running].map(([name, counts]) => [name, { ...counts }]));
  });
}

function compareArms(
  experiment: Experiment,
  armName: string,
  looks: readonly Map<string, ArmCounts>[],
  tuning: number,
): RawComparison {
  const { alpha } = experiment;
  const zero = { users: 0, clicks: 0 };
  const control = looks.at(-1)?.get(experiment.control) ?? zero;
  const treatment = looks.at(-1)?.get(armName) ?? zero;
  const fixed = twoProportionTest(control, treatment, alpha);
  const lift = relativeLift(control, treatment, alpha);
  const differenceLooks: SequentialLook[] = looks.map((look) => {
    const test = twoProportionTest(look.get(experiment.control)!, look.get(armName)!, alpha);
    const totalUsers = look.get(experiment.control)!.users + look.get(armName)!.users;
    return { estimate: test.difference, standardError: test.standardError, totalUsers };
  });
  const sequential = runningConfidenceSequence(differenceLooks, alpha, tuning);
  const sequentialLift =
    lift === null
      ? null
      : runningConfidenceSequence(
          [{ estimate: lift.lift, standardError: lift.standardError, totalUsers: control.users + treatment.users }],
          alpha,
          tuning,
        ).interval;
  return {
    arm: armName,
    control,
    treatment,
    fixedP: fixed.pValue,
    sequentialP: sequential.pValue,
    build: (holmFixed, holmSequential) => ({
      arm: armName,
      difference: fixed.difference,
      difference_interval: fixed.interval,
      lift: lift?.lift ?? null,
      lift_interval: lift?.interval ?? null,
      fixed: { z: fixed.z, p_value: fixed.pValue, p_value_holm: holmFixed },
      sequential: {
        difference_interval: finite(sequential.interval),
        lift_interval: sequentialLift === null ? null : finite(sequentialLift),
        p_value: sequential.pValue,
        p_value_holm: holmSequential,
      },
    }),
  };
}

/** JSON has no infinity: an interval with no data yet is reported as the widest finite one. */
function finite(interval: Interval): Interval {
  return [Math.max(interval[0], -Number.MAX_VALUE), Math.min(interval[1], Number.MAX_VALUE)];
}

/** Holm over every comparison of the given scopes together, then each scope's verdict. */
function finishScopes(
  experiment: Experiment,
  scopes: readonly ScopeParts[],
  planned: Map<string, number> | null,
): ScopeReport[] {
  const all = scopes.flatMap((scope) => scope.raw);
  const holmFixed = holmAdjust(all.map((each) => each.fixedP));
  const holmSequential = holmAdjust(all.map((each) => each.sequentialP));
  let index = 0;
  return scopes.map((scope) => {
    const comparisons = scope.raw.map((each) => {
      const built = each.build(holmFixed[index]!, holmSequential[index]!);
      index++;
      return built;
    });
    const verdict = decide(experiment, scope, comparisons, planned);
    return { segment: scope.segment, days: scope.days, arms: scope.arms, comparisons, srm: scope.srm, verdict };
  });
}

const percent = (value: number, digits = 2) => `${(value * 100).toFixed(digits)} %`;
const signedPercent = (value: number) => `${value >= 0 ? '+' : ''}${(value * 100).toFixed(1)} %`;
const formatP = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));

/**
 * The plain verdict. SRM holds it back. Once every arm has its planned users, the fixed test decides (that is the
 * test the planner sized); before that only the sequential test may stop the experiment early.
 */
function decide(
  experiment: Experiment,
  scope: ScopeParts,
  comparisons: ScopeReport['comparisons'],
  planned: Map<string, number> | null,
): Verdict {
  const { alpha } = experiment;
  if (scope.srm.mismatch) {
    const shares = scope.arms.map((arm) => `${arm.arm} ${arm.users}`).join(', ');
    return {
      decision: 'held_back',
      arm: null,
      test: null,
      reason:
        `sample ratio mismatch: users per arm (${shares}) do not fit the weights (χ² ${scope.srm.chi_square.toFixed(2)}, ` +
        `p ${formatP(scope.srm.p_value)} < 0.001); the arms are not comparable until the cause is found ` +
        '(exposure logged after an arm-dependent step, bot filtering, caching, a changed split)',
    };
  }
  if (scope.arms.some((arm) => arm.users === 0)) {
    const empty = scope.arms.filter((arm) => arm.users === 0).map((arm) => arm.arm);
    return { decision: 'keep_running', arm: null, test: null, reason: `no users yet in ${empty.join(', ')}` };
  }
  const horizonReached =
    planned !== null && scope.arms.every((arm) => arm.users >= (planned.get(arm.arm) ?? Number.POSITIVE_INFINITY));
  const test = horizonReached ? 'fixed' : 'sequential';
  const pOf = (each: ScopeReport['comparisons'][number]) =>
    horizonReached ? each.fixed.p_value_holm : each.sequential.p_value_holm;
  const significant = comparisons.filter((each) => pOf(each) < alpha);
  const better = significant.filter((each) => each.difference > 0).sort((a, b) => b.difference - a.difference);
  const control = scope.arms.find((arm) => arm.arm === experiment.control)!;
  const describe = (each: ScopeReport['comparisons'][number]) => {
    const arm = scope.arms.find((result) => result.arm === each.arm)!;
    const lift = each.lift === null ? '' : ` (${signedPercent(each.lift)} relative)`;
    return `${each.arm} CTR ${percent(arm.ctr)} vs ${control.arm} ${percent(control.ctr)}${lift}, ${test} p ${formatP(pOf(each))}`;
  };
  if (better.length > 0) {
    return { decision: 'ship', arm: better[0]!.arm, test, reason: `${describe(better[0]!)} < ${alpha}` };
  }
  if (significant.length === comparisons.length && comparisons.length > 0) {
    return {
      decision: 'keep_control',
      arm: experiment.control,
      test,
      reason: `every treatment is worse than the control: ${comparisons.map(describe).join('; ')}`,
    };
  }
  if (horizonReached) {
    return {
      decision: 'no_difference',
      arm: null,
      test,
      reason: `planned users reached and no arm beats the control: ${comparisons.map(describe).join('; ')}`,
    };
  }
  const bound = experiment.min_detectable_lift;
  const allSmall =
    bound !== null &&
    comparisons.every(
      (each) =>
        each.sequential.lift_interval !== null && Math.max(...each.sequential.lift_interval.map(Math.abs)) < bound,
    );
  if (allSmall) {
    return {
      decision: 'no_difference',
      arm: null,
      test,
      reason: `every lift's always-valid interval lies within ±${percent(bound!, 1)}, the smallest lift worth detecting`,
    };
  }
  const progress =
    planned === null ? '' : ` (${control.users} of ${planned.get(control.arm)} planned ${control.arm} users)`;
  return {
    decision: 'keep_running',
    arm: null,
    test,
    reason: `no arm differs yet${progress}: ${comparisons.map(describe).join('; ')}`,
  };
}

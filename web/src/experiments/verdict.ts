// The report's verdict as a sentence of the page's own (pure): which text and which numbers, from the scope's arms
// and comparisons; the server's English reason stays one click away as the details.
import type { ArmComparison, ExperimentScope } from '../api/index.js';
import type { MessageKey } from '../i18n/index.js';
import { formatLift, formatPercent, formatPValue } from './format.js';

export interface VerdictMessage {
  key: MessageKey;
  vars: Record<string, string | number>;
  /** The test that decided, as a text key: only for ship and keep_control. */
  testKey: MessageKey | null;
}

export function verdictMessage(
  scope: ExperimentScope,
  control: string,
  plannedUsersPerArm: number | null,
): VerdictMessage {
  const { verdict } = scope;
  const testKey = verdict.test === null ? null : (`experiments.test.${verdict.test}` as const);
  const controlArm = scope.arms.find((arm) => arm.arm === control);
  const controlCtr = controlArm ? formatPercent(controlArm.ctr) : '—';
  switch (verdict.decision) {
    case 'ship': {
      const arm = scope.arms.find((each) => each.arm === verdict.arm);
      const comparison = scope.comparisons.find((each) => each.arm === verdict.arm);
      return {
        key: 'experiments.verdict.ship',
        testKey,
        vars: {
          arm: verdict.arm ?? '—',
          control,
          ctr: arm ? formatPercent(arm.ctr) : '—',
          controlCtr,
          lift: formatLift(comparison?.lift ?? null),
          p: comparison ? formatPValue(decidingP(comparison, verdict.test)) : '—',
        },
      };
    }
    case 'keep_control':
      return { key: 'experiments.verdict.keep_control', testKey, vars: { control, controlCtr } };
    case 'no_difference':
      return { key: 'experiments.verdict.no_difference', testKey: null, vars: { control } };
    case 'held_back':
      return {
        key: 'experiments.verdict.held_back',
        testKey: null,
        vars: { p: formatPValue(scope.srm.p_value), chi: scope.srm.chi_square.toFixed(2) },
      };
    default: {
      const users = controlArm?.users ?? 0;
      return plannedUsersPerArm === null
        ? { key: 'experiments.verdict.keep_running', testKey: null, vars: { control } }
        : {
            key: 'experiments.verdict.keep_running_planned',
            testKey: null,
            vars: { control, users, planned: plannedUsersPerArm },
          };
    }
  }
}

/** The Holm-corrected p-value of the test that decided (fixed at the planned size, sequential before it). */
export function decidingP(comparison: ArmComparison, test: 'fixed' | 'sequential' | null): number {
  return test === 'fixed' ? comparison.fixed.p_value_holm : comparison.sequential.p_value_holm;
}

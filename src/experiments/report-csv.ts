// The report as CSV for spreadsheets: one row per scope (all traffic, then each segment) and arm.
import type { ExperimentReport } from './report.js';

const HEADER = [
  'segment',
  'arm',
  'users',
  'clicks',
  'ctr',
  'ctr_low',
  'ctr_high',
  'lift',
  'lift_low',
  'lift_high',
  'p_value',
  'p_value_holm',
  'sequential_p_value',
  'sequential_p_value_holm',
  'srm_p_value',
  'decision',
];

export function formatReportCsv(report: ExperimentReport): string {
  const scopes = [report.overall, ...report.segments];
  const lines = scopes.flatMap((scope) =>
    scope.arms.map((arm) => {
      const comparison = scope.comparisons.find((each) => each.arm === arm.arm);
      const cells = [
        scope.segment ?? '',
        arm.arm,
        arm.users,
        arm.clicks,
        arm.ctr,
        arm.ctr_interval[0],
        arm.ctr_interval[1],
        comparison?.lift ?? '',
        comparison?.lift_interval?.[0] ?? '',
        comparison?.lift_interval?.[1] ?? '',
        comparison?.fixed.p_value ?? '',
        comparison?.fixed.p_value_holm ?? '',
        comparison?.sequential.p_value ?? '',
        comparison?.sequential.p_value_holm ?? '',
        scope.srm.p_value,
        scope.verdict.decision,
      ];
      return cells
        .map((cell) => (/[",\n]/.test(String(cell)) ? `"${String(cell).replace(/"/g, '""')}"` : cell))
        .join(',');
    }),
  );
  return `${HEADER.join(',')}\n${lines.map((line) => `${line}\n`).join('')}`;
}

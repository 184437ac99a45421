// `lora-scripts experiment create|list|show|assign|ingest|import|report|plan`: A/B experiments of covers on the
// workspace's store (the same file `serve` uses) or the `--db` PostgreSQL, so the CLI and the studio see the same
// experiments.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import {
  analyseExperiment,
  assignArm,
  type ExperimentEvent,
  type ExperimentReport,
  type ExperimentStore,
  experimentEventSchema,
  experimentNotFound,
  formatReportCsv,
  MAX_EVENTS_PER_BATCH,
  minimumDetectableLift,
  type NewExperiment,
  openExperimentStore,
  parseCountsCsv,
  powerAt,
  type ScopeReport,
  seededRandom,
  simulateTraffic,
  usersForLift,
} from '../../experiments/index.js';
import { closeDatabases, databaseLocation } from '../../store/index.js';
import { EXPERIMENT_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { type FlagValues, parseFlags } from '../flag-values.js';

type Flags = FlagValues<(typeof EXPERIMENT_FLAGS)['flags']>;
const ACTIONS = ['create', 'list', 'show', 'assign', 'ingest', 'import', 'simulate', 'report', 'plan'] as const;

export async function experimentCommand(
  action: string | undefined,
  args: string[],
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const flags = parseFlags(EXPERIMENT_FLAGS, given);
  if (action === 'plan') return printPlan(flags);
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number])) {
    throw new UsageError(`unknown action ${JSON.stringify(action ?? '')}; the actions are ${ACTIONS.join(', ')}`, {
      code: 'unknown_action',
      culprit: 'experiment',
      hint: 'lora-scripts experiment create covers-2026-12 --arm generic:1 --arm regional:1',
    });
  }
  try {
    const store = await openExperimentStore(databaseLocation(flags.db, resolve(ctx.cwd, flags.workspace), ctx.cwd));
    try {
      const out = await runAction(action!, args, flags, store, ctx);
      process.stdout.write(out.endsWith('\n') ? out : `${out}\n`);
      return 0;
    } finally {
      await store.close();
    }
  } finally {
    // a PostgreSQL pool left open would keep the command's process alive
    await closeDatabases();
  }
}

async function runAction(action: string, args: string[], flags: Flags, store: ExperimentStore, ctx: CommandContext) {
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  if (action === 'list') {
    const experiments = await store.listExperiments();
    if (flags.json) return json(experiments);
    if (experiments.length === 0) return 'no experiments yet; `lora-scripts experiment create` makes one';
    return experiments
      .map((each) => `${each.id}\t${each.arms.map((arm) => `${arm.name}:${arm.weight}`).join(' ')}`)
      .join('\n');
  }
  const id = requireArgument(args[0], 'an experiment id');
  if (action === 'create') {
    const experiment = await store.createExperiment(newExperimentFrom(id, flags));
    return flags.json ? json(experiment) : describeExperiment(experiment);
  }
  const experiment = await store.getExperiment(id);
  if (experiment === null) throw experimentNotFound(id);
  switch (action) {
    case 'show':
      return flags.json ? json(experiment) : describeExperiment(experiment);
    case 'assign': {
      const users = args.slice(1);
      if (users.length === 0) requireArgument(undefined, 'one or more user ids');
      const assigned = users.map((user) => ({ user_id: user, ...assignArm(experiment, user) }));
      return flags.json ? json(assigned) : assigned.map((each) => `${each.user_id}\t${each.arm}`).join('\n');
    }
    case 'ingest': {
      const events = readEvents(resolve(ctx.cwd, requireFile(flags)));
      let accepted = 0;
      let duplicates = 0;
      for (let start = 0; start < events.length; start += MAX_EVENTS_PER_BATCH) {
        const result = await store.ingestEvents(id, events.slice(start, start + MAX_EVENTS_PER_BATCH));
        accepted += result.accepted;
        duplicates += result.duplicates;
      }
      return flags.json
        ? json({ accepted, duplicates })
        : `${accepted} events stored, ${duplicates} seen before (unchanged)`;
    }
    case 'simulate': {
      const ctrByArm = trueRates(
        experiment.arms.map((arm) => arm.name),
        flags.ctr,
      );
      const traffic = simulateTraffic(seededRandom(flags.seed), (user) => assignArm(experiment, user).arm, {
        days: flags.days,
        usersPerDay: flags.usersPerDay,
        ctrByArm,
        segments: flags.segment,
        userPrefix: `sim${flags.seed}`,
      });
      let accepted = 0;
      for (const day of traffic) {
        for (let start = 0; start < day.length; start += MAX_EVENTS_PER_BATCH) {
          accepted += (await store.ingestEvents(id, day.slice(start, start + MAX_EVENTS_PER_BATCH))).accepted;
        }
      }
      const report = analyseExperiment(experiment, await store.dailyCounts(id));
      if (flags.json) return json({ accepted, report });
      return `${accepted} synthetic events stored (${flags.days} days × ${flags.usersPerDay} users)\n${describeReport(report)}`;
    }
    case 'import': {
      const file = resolve(ctx.cwd, requireFile(flags));
      const rows = parseCountsCsv(
        readFileSync(file, 'utf8'),
        experiment.arms.map((arm) => arm.name),
      );
      await store.importCounts(id, rows);
      return flags.json ? json({ rows: rows.length }) : `${rows.length} rows of daily counts imported`;
    }
    default: {
      const report = analyseExperiment(experiment, await store.dailyCounts(id));
      const text = flags.csv ? formatReportCsv(report) : flags.json ? json(report) : describeReport(report);
      if (flags.out === undefined) return text;
      writeAtomically(resolve(ctx.cwd, flags.out), text);
      return `report written to ${flags.out} (${report.overall.verdict.decision})`;
    }
  }
}

function requireArgument(value: string | undefined, what: string): string {
  if (value !== undefined && value !== '') return value;
  throw new UsageError(`needs ${what}`, {
    code: 'missing_argument',
    culprit: 'experiment',
    hint: '`lora-scripts experiment --help` shows each action with an example',
  });
}

/** `--ctr arm=rate`, repeated: the true CTR per arm; arms not named get the first rate given. */
function trueRates(arms: readonly string[], given: readonly string[]): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const text of given) {
    const [arm = '', rate = ''] = text.split('=');
    const value = Number(rate);
    if (!arms.includes(arm) || rate === '' || !(value >= 0 && value <= 1)) {
      throw new UsageError(
        `must be arm=rate with an arm of the experiment and a rate in [0, 1], got ${JSON.stringify(text)}`,
        {
          code: 'invalid_flag',
          culprit: '--ctr',
          hint: `the arms are ${arms.join(', ')}: --ctr ${arms[0]}=0.05 --ctr ${arms[1]}=0.0615`,
        },
      );
    }
    rates[arm] = value;
  }
  const first = Object.values(rates)[0];
  if (first === undefined) requireArgument(undefined, 'at least one `--ctr arm=rate`');
  return Object.fromEntries(arms.map((arm) => [arm, rates[arm] ?? first!]));
}

function requireFile(flags: Flags): string {
  if (flags.file !== undefined) return flags.file;
  throw new UsageError('`--file <path>` is required', {
    code: 'missing_flag',
    culprit: 'experiment',
    hint: 'ingest reads JSON lines (one event per line) or a JSON array; import reads CSV (day,arm,users,clicks[,segment])',
  });
}

/** `--arm name:weight[:style[:strength]]`, repeated. */
function newExperimentFrom(id: string, flags: Flags): NewExperiment {
  const arms = flags.arm.map((text) => {
    const [name = '', weight = '', style, strength] = text.split(':');
    const arm: NewExperiment['arms'][number] = { name, weight: Number(weight) };
    if (weight === '' || !Number.isFinite(arm.weight)) {
      throw new UsageError(`must be name:weight[:style[:strength]], got ${JSON.stringify(text)}`, {
        code: 'invalid_flag',
        culprit: '--arm',
        hint: '--arm generic:1 --arm regional:1:jiangnan_style:0.7',
      });
    }
    if (style) arm.style = style;
    if (strength !== undefined) arm.strength = Number(strength);
    return arm;
  });
  return {
    id,
    arms,
    ...(flags.name ? { name: flags.name } : {}),
    ...(flags.salt ? { salt: flags.salt } : {}),
    ...(flags.control ? { control: flags.control } : {}),
    ...(flags.alpha !== undefined ? { alpha: flags.alpha } : {}),
    ...(flags.power !== undefined ? { power: flags.power } : {}),
    ...(flags.baselineCtr !== undefined ? { baseline_ctr: flags.baselineCtr } : {}),
    ...(flags.lift !== undefined ? { min_detectable_lift: flags.lift } : {}),
  };
}

/** JSON lines, or one JSON array; each event checked, the first bad one named by its line (or index). */
function readEvents(file: string): ExperimentEvent[] {
  const text = readFileSync(file, 'utf8').trim();
  const items: { where: string; value: unknown }[] = [];
  if (text.startsWith('[')) {
    for (const [index, value] of (JSON.parse(text) as unknown[]).entries())
      items.push({ where: `item ${index}`, value });
  } else {
    text.split(/\r?\n/).forEach((line, index) => {
      if (line.trim() === '') return;
      try {
        items.push({ where: `line ${index + 1}`, value: JSON.parse(line) });
      } catch {
        throw new UsageError('is not JSON', { code: 'invalid_event', culprit: `${file}: line ${index + 1}` });
      }
    });
  }
  return items.map(({ where, value }) => {
    const parsed = experimentEventSchema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0]!;
    throw new UsageError(`field \`${issue.path.join('.') || 'event'}\`: ${issue.message}`, {
      code: 'invalid_event',
      culprit: `${file}: ${where}`,
      hint: 'an event is {"type":"exposure"|"click","event_id","user_id","at":"2026-12-01T08:00:00Z","arm"?,"segment"?}',
    });
  });
}

function writeAtomically(file: string, text: string): void {
  const temporary = join(dirname(file), `.${Date.now()}-${process.pid}.tmp`);
  writeFileSync(temporary, text);
  renameSync(temporary, file);
}

function describeExperiment(experiment: Awaited<ReturnType<ExperimentStore['createExperiment']>>): string {
  const arms = experiment.arms.map((arm) => {
    const extra = [arm.style, arm.strength === undefined ? undefined : `strength ${arm.strength}`].filter(Boolean);
    return `  ${arm.name}${arm.name === experiment.control ? ' (control)' : ''}: weight ${arm.weight}${extra.length ? `, ${extra.join(', ')}` : ''}`;
  });
  const plan =
    experiment.planned_users_per_arm === null
      ? 'no plan (give --baseline-ctr and --lift to size it)'
      : `${experiment.planned_users_per_arm} control users to detect ${pct(experiment.min_detectable_lift!)} lift on a ${pct(experiment.baseline_ctr!)} CTR at ${pct(experiment.power, 0)} power`;
  return [
    `${experiment.id} (salt ${JSON.stringify(experiment.salt)}, α ${experiment.alpha})`,
    ...arms,
    `plan: ${plan}`,
  ].join('\n');
}

const pct = (value: number, digits = 1) => `${(value * 100).toFixed(digits)} %`;
const fmtP = (p: number) => (p < 1e-4 ? p.toExponential(1) : p.toFixed(4));
const fmtInterval = ([low, high]: [number, number], digits = 2) => `[${pct(low, digits)}, ${pct(high, digits)}]`;

function describeScope(scope: ScopeReport): string[] {
  const lines = [`${scope.segment ?? 'all traffic'} — ${scope.days} days`];
  for (const arm of scope.arms) {
    const comparison = scope.comparisons.find((each) => each.arm === arm.arm);
    const vs =
      comparison === undefined
        ? '(control)'
        : `lift ${comparison.lift === null ? '–' : pct(comparison.lift)} ${comparison.lift_interval ? fmtInterval(comparison.lift_interval, 1) : ''}, p ${fmtP(comparison.fixed.p_value_holm)} fixed, ${fmtP(comparison.sequential.p_value_holm)} sequential`;
    lines.push(
      `  ${arm.arm}: ${arm.users} users, ${arm.clicks} clicks, CTR ${pct(arm.ctr, 2)} ${fmtInterval(arm.ctr_interval)}  ${vs}`,
    );
  }
  lines.push(
    `  SRM: χ² ${scope.srm.chi_square.toFixed(2)}, p ${fmtP(scope.srm.p_value)}${scope.srm.mismatch ? ' — MISMATCH' : ''}`,
  );
  lines.push(
    `  verdict: ${scope.verdict.decision.replace('_', ' ')}${scope.verdict.arm ? ` (${scope.verdict.arm})` : ''} — ${scope.verdict.reason}`,
  );
  return lines;
}

function describeReport(report: ExperimentReport): string {
  const head = `${report.experiment_id}: control ${report.control}, α ${report.alpha}, planned ${report.planned_users_per_arm ?? '–'} users per arm`;
  return [head, ...describeScope(report.overall), ...report.segments.flatMap(describeScope)].join('\n');
}

function printPlan(flags: Flags): number {
  if (flags.baselineCtr === undefined || (flags.lift === undefined) === (flags.users === undefined)) {
    throw new UsageError('needs --baseline-ctr and exactly one of --lift and --users', {
      code: 'missing_flag',
      culprit: 'experiment plan',
      hint: 'lora-scripts experiment plan --baseline-ctr 0.05 --lift 0.23',
    });
  }
  const common = { baselineRate: flags.baselineCtr, alpha: flags.alpha ?? 0.05, treatmentRatio: flags.treatmentRatio };
  const power = flags.power ?? 0.8;
  const lift = flags.lift ?? minimumDetectableLift({ ...common, power, controlUsers: flags.users! });
  const users =
    flags.users === undefined
      ? usersForLift({ ...common, power, relativeLift: lift })
      : { control: flags.users, treatment: Math.ceil(flags.users * flags.treatmentRatio) };
  const achieved = powerAt({ ...common, relativeLift: lift, controlUsers: users.control });
  const result = {
    relative_lift: lift,
    control_users: users.control,
    treatment_users: users.treatment,
    power: achieved,
  };
  process.stdout.write(
    flags.json
      ? `${JSON.stringify(result, null, 2)}\n`
      : `${users.control} control + ${users.treatment} treatment users detect a ${pct(lift)} lift on a ${pct(flags.baselineCtr, 2)} CTR with ${pct(achieved)} power (two-sided α ${common.alpha})\n`,
  );
  return 0;
}

// Where experiments, their events and their imported counts are kept: an interface with two backends behind the same
// calls (sqlite-store.ts, the embedded one; postgres-store.ts, shared by several servers).
import { LoraScriptsError } from '../errors.js';
import { plannedUsers } from './analysis.js';
import { bucketOf, armIndexFor } from './stats/assignment.js';
import {
  type DailyCount,
  type Experiment,
  type ExperimentEvent,
  type IngestResult,
  type NewExperiment,
  newExperimentSchema,
} from './model.js';

export interface ExperimentStore {
  /** Creates an experiment; an id already taken is `experiment_exists` (experiments never change once created). */
  createExperiment(input: NewExperiment): Promise<Experiment>;
  getExperiment(id: string): Promise<Experiment | null>;
  /** Oldest first. */
  listExperiments(): Promise<Experiment[]>;
  /** Stores a batch in one transaction; an event id already stored changes nothing (a resent batch counts once). */
  ingestEvents(id: string, events: readonly ExperimentEvent[]): Promise<IngestResult>;
  /** Aggregated counts: a (day, segment, arm) row replaces the one stored before, so a re-import changes nothing. */
  importCounts(id: string, rows: readonly DailyCount[]): Promise<{ rows: number }>;
  /** Users and clicking users per day, segment and arm: from the events and the imports together. */
  dailyCounts(id: string): Promise<DailyCount[]>;
  close(): Promise<void>;
}

/** Every experiment store error carries one of these codes. */
export class ExperimentError extends LoraScriptsError {}

export function experimentNotFound(id: string): ExperimentError {
  return new ExperimentError(`no experiment \`${id}\``, {
    code: 'experiment_not_found',
    hint: '`lora-scripts experiment list` (or GET /api/experiments) lists them',
  });
}

/** The experiment as stored: defaults filled in, the plan computed once. */
export function resolveExperiment(input: NewExperiment, createdAt: string): Experiment {
  const parsed = newExperimentSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ExperimentError(issue.message, {
      code: 'invalid_experiment',
      culprit: issue.path.map(String).join('.') || 'experiment',
      hint: 'an experiment needs an id and at least two arms with weights',
    });
  }
  const value = parsed.data;
  const base = {
    arms: value.arms,
    control: value.control ?? value.arms[0]!.name,
    alpha: value.alpha,
    power: value.power,
    baseline_ctr: value.baseline_ctr ?? null,
    min_detectable_lift: value.min_detectable_lift ?? null,
  };
  const planned = plannedUsers(base);
  return {
    id: value.id,
    name: value.name ?? value.id,
    salt: value.salt ?? value.id,
    ...base,
    planned_users_per_arm: planned?.get(base.control) ?? null,
    created_at: createdAt,
  };
}

/** The arm a user gets: the hash of salt + user id, placed among the arms by weight. */
export function assignArm(experiment: Pick<Experiment, 'salt' | 'arms'>, userId: string) {
  const bucket = bucketOf(experiment.salt, userId);
  const arm =
    experiment.arms[
      armIndexFor(
        bucket,
        experiment.arms.map((each) => each.weight),
      )
    ]!;
  return { arm: arm.name, bucket };
}

/** An experiment id already taken (both backends refuse it the same way). */
export function experimentExists(id: string): ExperimentError {
  return new ExperimentError(`experiment \`${id}\` exists already`, {
    code: 'experiment_exists',
    hint: 'experiments never change once created: pick another id for a new split or new arms',
  });
}

/** Throws `invalid_event` naming the first event whose arm the experiment does not have. */
export function requireKnownArms(experiment: Experiment, events: readonly ExperimentEvent[]): void {
  const unknown = findUnknownArm(experiment, events);
  if (unknown === null) return;
  throw new ExperimentError(
    `no arm \`${(events[unknown] as { arm: string }).arm}\` in experiment \`${experiment.id}\``,
    {
      code: 'invalid_event',
      culprit: `events.${unknown}.arm`,
      hint: `the arms are ${experiment.arms.map((arm) => arm.name).join(', ')}; leave arm out to use the assigned one`,
    },
  );
}

/** Throws `invalid_counts` naming the first count row with an unknown arm, or more clicks than users. */
export function requireValidCounts(experiment: Experiment, rows: readonly DailyCount[]): void {
  const arms = new Set(experiment.arms.map((arm) => arm.name));
  const bad = rows.findIndex((row) => !arms.has(row.arm) || row.clicks > row.users || row.users < 0);
  if (bad < 0) return;
  throw new ExperimentError('a count row names an unknown arm, or has more clicks than users', {
    code: 'invalid_counts',
    culprit: `rows.${bad}`,
    hint: `the arms are ${[...arms].join(', ')}`,
  });
}

/** The first event (index and field) that names an arm the experiment does not have, or null. */
export function findUnknownArm(experiment: Experiment, events: readonly ExperimentEvent[]): number | null {
  const names = new Set(experiment.arms.map((arm) => arm.name));
  const index = events.findIndex(
    (event) => event.type === 'exposure' && event.arm !== undefined && !names.has(event.arm),
  );
  return index < 0 ? null : index;
}

/** The UTC day of an event's time: the look it belongs to. */
export const dayOf = (at: string) => new Date(at).toISOString().slice(0, 10);

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

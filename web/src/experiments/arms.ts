// The new-experiment form as a request body, and a counts CSV to start an import from (pure).
import type { NewExperimentBody } from '../api/index.js';

export interface ArmRow {
  name: string;
  /** As typed; empty: 1. */
  weight: string;
  /** A library style the arm shows; empty: none. */
  style: string;
  /** The LoRA strength the arm uses; empty: the style's own. */
  strength: string;
}

export interface ExperimentForm {
  id: string;
  name: string;
  arms: ArmRow[];
  /** Percent as typed (`5` for 5 %); empty: no plan. */
  baselineCtrPercent: string;
  /** Percent as typed (`23` for +23 %); empty: no plan. */
  minLiftPercent: string;
}

export const EMPTY_ARM: ArmRow = { name: '', weight: '1', style: '', strength: '' };

export const STARTING_FORM: ExperimentForm = {
  id: '',
  name: '',
  arms: [
    { ...EMPTY_ARM, name: 'generic' },
    { ...EMPTY_ARM, name: 'regional' },
  ],
  baselineCtrPercent: '',
  minLiftPercent: '',
};

const numberOr = (text: string, fallback: number) => (text.trim() === '' ? fallback : Number(text));

/** Rows with no name are left out (an empty last row is how a new arm is offered); the first arm is the control. */
export function experimentBody(form: ExperimentForm): NewExperimentBody {
  const arms = form.arms
    .filter((row) => row.name.trim() !== '')
    .map((row) => ({
      name: row.name.trim(),
      weight: numberOr(row.weight, 1),
      ...(row.style.trim() === '' ? {} : { style: row.style.trim() }),
      ...(row.strength.trim() === '' ? {} : { strength: Number(row.strength) }),
    }));
  const baseline = form.baselineCtrPercent.trim();
  const lift = form.minLiftPercent.trim();
  return {
    id: form.id.trim(),
    ...(form.name.trim() === '' ? {} : { name: form.name.trim() }),
    arms,
    ...(baseline === '' ? {} : { baseline_ctr: Number(baseline) / 100 }),
    ...(lift === '' ? {} : { min_detectable_lift: Number(lift) / 100 }),
  };
}

/** The header and one example row per arm for `day` (UTC date), users and clicks left at 0 to be filled in. */
export function countsCsvTemplate(arms: readonly string[], day: string): string {
  return ['day,arm,users,clicks', ...arms.map((arm) => `${day},${arm},0,0`)].join('\n');
}

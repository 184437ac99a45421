// WebUI sampler names → the diffusers scheduler that does the same thing. Pure; the one place this mapping lives
// (the engine builds whatever class and settings it is sent, on top of the base model's own scheduler config).
import { UsageError } from '../errors.js';

export interface SchedulerChoice {
  /** A1111 sampler name as written to `Sampler:` (`DPM++ 2M`). */
  sampler: string;
  /** A1111 `Schedule type:` (`Automatic`, `Karras`, `Exponential`). */
  scheduleType: ScheduleType;
  /** What the engine builds: a diffusers scheduler class and settings over the base model's config. */
  engine: { class_name: string; config: Record<string, string | number | boolean> };
}

export const SCHEDULE_TYPES = ['Automatic', 'Karras', 'Exponential'] as const;
export type ScheduleType = (typeof SCHEDULE_TYPES)[number];

interface SamplerEntry {
  className: string;
  config: Record<string, string | number | boolean>;
  /** Whether the diffusers class takes `use_karras_sigmas` / `use_exponential_sigmas`. */
  hasSigmaSchedules: boolean;
}

const SAMPLERS: Record<string, SamplerEntry> = {
  'Euler a': { className: 'EulerAncestralDiscreteScheduler', config: {}, hasSigmaSchedules: false },
  Euler: { className: 'EulerDiscreteScheduler', config: {}, hasSigmaSchedules: true },
  LMS: { className: 'LMSDiscreteScheduler', config: {}, hasSigmaSchedules: true },
  Heun: { className: 'HeunDiscreteScheduler', config: {}, hasSigmaSchedules: true },
  DPM2: { className: 'KDPM2DiscreteScheduler', config: {}, hasSigmaSchedules: true },
  'DPM2 a': { className: 'KDPM2AncestralDiscreteScheduler', config: {}, hasSigmaSchedules: true },
  'DPM++ 2M': {
    className: 'DPMSolverMultistepScheduler',
    config: { algorithm_type: 'dpmsolver++', solver_order: 2 },
    hasSigmaSchedules: true,
  },
  'DPM++ 2M SDE': {
    className: 'DPMSolverMultistepScheduler',
    config: { algorithm_type: 'sde-dpmsolver++', solver_order: 2 },
    hasSigmaSchedules: true,
  },
  DDIM: { className: 'DDIMScheduler', config: {}, hasSigmaSchedules: false },
  PLMS: { className: 'PNDMScheduler', config: { skip_prk_steps: true }, hasSigmaSchedules: false },
  UniPC: { className: 'UniPCMultistepScheduler', config: {}, hasSigmaSchedules: true },
  DEIS: { className: 'DEISMultistepScheduler', config: {}, hasSigmaSchedules: true },
};

/** WebUI samplers that need what the engine does not ship (torchsde's Brownian tree) or have no diffusers twin. */
const UNAVAILABLE: Record<string, string> = {
  'DPM++ SDE': 'needs torchsde, which the engine does not install',
  'DPM++ 2S a': 'has no diffusers scheduler that samples the same way',
  'DPM++ 3M SDE': 'has no diffusers scheduler that samples the same way',
  'DPM fast': 'has no diffusers scheduler',
  'DPM adaptive': 'has no diffusers scheduler',
};

export const SAMPLER_NAMES = Object.keys(SAMPLERS);

/**
 * `Euler a`, `DPM++ 2M Karras` (the old combined name) or `DPM++ 2M` with `scheduleType` `Karras`. Names match
 * case-insensitively; the result carries the canonical spelling WebUI writes.
 */
export function chooseScheduler(name: string, scheduleType = 'Automatic', culprit = '--sampler'): SchedulerChoice {
  const { sampler, suffix } = splitScheduleSuffix(name.trim());
  const entry = SAMPLERS[sampler];
  if (!entry) {
    const why = UNAVAILABLE[sampler];
    throw new UsageError(why ? `\`${name}\` ${why}` : `unknown sampler \`${name}\``, {
      code: 'unknown_sampler',
      culprit,
      hint: `use one of ${SAMPLER_NAMES.map((s) => `\`${s}\``).join(', ')} (add \` Karras\` or \` Exponential\` for those schedules)`,
    });
  }
  const schedule = canonical(suffix ?? scheduleType, SCHEDULE_TYPES);
  if (!schedule) {
    throw new UsageError(`unknown schedule type \`${scheduleType}\``, {
      code: 'unknown_sampler',
      culprit: '--schedule-type',
      hint: `use one of ${SCHEDULE_TYPES.map((s) => `\`${s}\``).join(', ')}`,
    });
  }
  if (schedule !== 'Automatic' && !entry.hasSigmaSchedules) {
    throw new UsageError(`\`${sampler}\` has no \`${schedule}\` schedule`, {
      code: 'unknown_sampler',
      culprit,
      hint: `use \`${sampler}\` with the Automatic schedule, or \`Euler\` / \`DPM++ 2M\` with \`${schedule}\``,
    });
  }
  const sigmas: Record<string, boolean> =
    schedule === 'Karras'
      ? { use_karras_sigmas: true }
      : schedule === 'Exponential'
        ? { use_exponential_sigmas: true }
        : {};
  return {
    sampler,
    scheduleType: schedule,
    engine: { class_name: entry.className, config: { ...entry.config, ...sigmas } },
  };
}

function splitScheduleSuffix(name: string): { sampler: string; suffix: string | undefined } {
  const direct = canonical(name, [...SAMPLER_NAMES, ...Object.keys(UNAVAILABLE)]);
  if (direct) return { sampler: direct, suffix: undefined };
  for (const schedule of SCHEDULE_TYPES) {
    if (name.toLowerCase().endsWith(` ${schedule.toLowerCase()}`)) {
      const base = canonical(name.slice(0, -schedule.length - 1), [...SAMPLER_NAMES, ...Object.keys(UNAVAILABLE)]);
      if (base) return { sampler: base, suffix: schedule };
    }
  }
  return { sampler: name, suffix: undefined };
}

function canonical<T extends string>(name: string, names: readonly T[]): T | undefined {
  return names.find((n) => n.toLowerCase() === name.toLowerCase());
}

// The A1111 `POST /sdapi/v1/txt2img` body, field by field: its type (coerced as A1111's pydantic v1 models coerce),
// its default, and whether we honour it. Pure: a JSON value in, settings and the echoed `parameters` out, or the
// list of `{loc, msg, type}` faults a 422 carries.
//
// A1111 ignores keys it does not know and fields it does not use. Clients then get pictures that silently differ from
// what they asked for, so this server refuses instead: a field it cannot honour is accepted only at the value that
// asks for nothing (`enable_hr: false`, `alwayson_scripts: {}`, `styles: []`…), which is what clients such as
// `webuiapi` send by default; any other value, and any key A1111 does not know, is a 422 naming it.

export interface FieldFault {
  loc: (string | number)[];
  msg: string;
  type: string;
}

type Kind = 'int' | 'float' | 'bool' | 'str' | 'list' | 'dict';

interface Field {
  kind: Kind;
  /** What A1111 uses when the key is missing or null (its API schema default). */
  default: unknown;
  /**
   * Fields we do not implement: true when a value asks for nothing. Absent: the field is honoured (or, for `hr_*`
   * and the like, only read by a feature that is itself refused unless off).
   */
  inert?: (value: unknown, body: Record<string, unknown>) => boolean;
}

const off = (value: unknown) => value === null || value === false;
const empty = (value: unknown) =>
  value === null ||
  value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (typeof value === 'object' && Object.keys(value as object).length === 0);
const zeroOrLess = (value: unknown) => value === null || (value as number) <= 0;
const equalTo = (expected: number) => (value: unknown) => value === null || value === expected;

/** The samplers whose noise `eta` scales (A1111: `eta_ancestral` 1.0 for ancestral ones, `eta_ddim` 0 for DDIM). */
const ETA_DEFAULTS: Record<string, number> = { 'euler a': 1, 'dpm2 a': 1, 'dpm++ 2s a': 1, ddim: 0 };

function etaIsDefault(value: unknown, body: Record<string, unknown>): boolean {
  if (value === null) return true;
  const sampler = String(body.sampler_name ?? body.sampler_index ?? 'Euler').toLowerCase();
  const expected = ETA_DEFAULTS[sampler];
  return expected === undefined || value === expected; // other samplers never read eta
}

/** A1111 v1.10's txt2img request fields (modules/api/models.py builds them from the processing classes). */
export const TXT2IMG_FIELDS: Readonly<Record<string, Field>> = {
  prompt: { kind: 'str', default: '' },
  negative_prompt: { kind: 'str', default: '' },
  seed: { kind: 'int', default: -1 },
  steps: { kind: 'int', default: 50 },
  cfg_scale: { kind: 'float', default: 7.0 },
  width: { kind: 'int', default: 512 },
  height: { kind: 'int', default: 512 },
  sampler_name: { kind: 'str', default: null },
  sampler_index: { kind: 'str', default: 'Euler' },
  scheduler: { kind: 'str', default: null },
  batch_size: { kind: 'int', default: 1 },
  n_iter: { kind: 'int', default: 1 },
  override_settings: { kind: 'dict', default: null },
  override_settings_restore_afterwards: { kind: 'bool', default: true },
  send_images: { kind: 'bool', default: true },
  save_images: { kind: 'bool', default: false },
  do_not_save_samples: { kind: 'bool', default: false },
  do_not_save_grid: { kind: 'bool', default: false },
  force_task_id: { kind: 'str', default: null },
  comments: { kind: 'dict', default: null },
  // Variation seeds: `subseed` is only read when `subseed_strength` is not 0.
  subseed: { kind: 'int', default: -1 },
  subseed_strength: { kind: 'float', default: 0, inert: equalTo(0) },
  seed_resize_from_h: { kind: 'int', default: -1, inert: zeroOrLess },
  seed_resize_from_w: { kind: 'int', default: -1, inert: zeroOrLess },
  styles: { kind: 'list', default: null, inert: empty },
  restore_faces: { kind: 'bool', default: null, inert: off },
  tiling: { kind: 'bool', default: null, inert: off },
  disable_extra_networks: { kind: 'bool', default: false, inert: off },
  script_name: { kind: 'str', default: null, inert: empty },
  script_args: { kind: 'list', default: [], inert: empty },
  alwayson_scripts: { kind: 'dict', default: {}, inert: empty },
  firstpass_image: { kind: 'str', default: null, inert: empty },
  infotext: { kind: 'str', default: null, inert: empty },
  refiner_checkpoint: { kind: 'str', default: null, inert: empty },
  refiner_switch_at: { kind: 'float', default: null },
  eta: { kind: 'float', default: null, inert: etaIsDefault },
  s_min_uncond: { kind: 'float', default: null, inert: equalTo(0) },
  s_churn: { kind: 'float', default: null, inert: equalTo(0) },
  s_tmax: { kind: 'float', default: null, inert: equalTo(0) },
  s_tmin: { kind: 'float', default: null, inert: equalTo(0) },
  s_noise: { kind: 'float', default: null, inert: equalTo(1) },
  // Hires fix: refused unless off; its companions are read only when it is on.
  enable_hr: { kind: 'bool', default: false, inert: off },
  denoising_strength: { kind: 'float', default: null },
  hr_scale: { kind: 'float', default: 2.0 },
  hr_upscaler: { kind: 'str', default: null },
  hr_second_pass_steps: { kind: 'int', default: 0 },
  hr_resize_x: { kind: 'int', default: 0 },
  hr_resize_y: { kind: 'int', default: 0 },
  hr_checkpoint_name: { kind: 'str', default: null },
  hr_sampler_name: { kind: 'str', default: null },
  hr_scheduler: { kind: 'str', default: null },
  hr_prompt: { kind: 'str', default: '' },
  hr_negative_prompt: { kind: 'str', default: '' },
  firstphase_width: { kind: 'int', default: 0 },
  firstphase_height: { kind: 'int', default: 0 },
};

/** `override_settings` keys honoured for one request, and those accepted at the value that changes nothing. */
const OVERRIDES_HONOURED = new Set(['sd_model_checkpoint']);
const OVERRIDES_AT_DEFAULT: Record<string, unknown> = { CLIP_stop_at_last_layers: 1, samples_format: 'png' };

/** Limits of A1111's own UI; beyond them a CPU render would run for hours. */
const LIMITS: Record<string, [number, number]> = {
  steps: [1, 150],
  width: [64, 2048],
  height: [64, 2048],
  batch_size: [1, 8],
  n_iter: [1, 100],
  cfg_scale: [0, 30],
};
const SEED_LIMIT = 2 ** 32;

export interface Txt2imgSettings {
  prompt: string;
  negative_prompt: string;
  /** -1: a random seed. */
  seed: number;
  subseed: number;
  steps: number;
  cfg_scale: number;
  width: number;
  height: number;
  /** `sampler_name`, else `sampler_index` (A1111's order). */
  sampler: string;
  /** Which field `sampler` came from, to name it in an error. */
  sampler_field: 'sampler_name' | 'sampler_index';
  scheduler: string | null;
  batch_size: number;
  n_iter: number;
  /** `override_settings.sd_model_checkpoint`: this request's checkpoint, by any spelling `/sd-models` accepts. */
  checkpoint: string | null;
  send_images: boolean;
  save_images: boolean;
}

export type Txt2imgReading =
  | { ok: true; settings: Txt2imgSettings; parameters: Record<string, unknown> }
  | { ok: false; faults: FieldFault[] };

/** Every fault at once, as FastAPI lists them: a client fixes its request in one go. */
export function readTxt2imgBody(body: unknown): Txt2imgReading {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return { ok: false, faults: [{ loc: ['body'], msg: 'value is not a valid dict', type: 'type_error.dict' }] };
  const raw = body as Record<string, unknown>;
  const faults: FieldFault[] = [];
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!(key in TXT2IMG_FIELDS))
      faults.push({
        loc: ['body', key],
        msg: 'not a txt2img field of the A1111 API; this server refuses fields rather than ignore them',
        type: 'value_error.extra',
      });
  }
  for (const [key, field] of Object.entries(TXT2IMG_FIELDS)) {
    const given = raw[key];
    if (given === undefined || given === null) {
      values[key] = field.default;
      continue;
    }
    const coerced = coerce(field.kind, given);
    if (coerced.fault) faults.push({ loc: ['body', key], ...coerced.fault });
    else values[key] = coerced.value;
  }
  if (faults.length > 0) return { ok: false, faults };
  faults.push(...unsupported(raw, values), ...outOfRange(values), ...overrideFaults(values.override_settings));
  if (faults.length > 0) return { ok: false, faults };
  const overrides = (values.override_settings ?? {}) as Record<string, unknown>;
  const str = (key: string) => values[key] as string;
  const num = (key: string) => values[key] as number;
  return {
    ok: true,
    parameters: values,
    settings: {
      prompt: str('prompt'),
      negative_prompt: str('negative_prompt'),
      seed: num('seed'),
      subseed: num('subseed'),
      steps: num('steps'),
      cfg_scale: num('cfg_scale'),
      width: num('width'),
      height: num('height'),
      sampler: (values.sampler_name as string | null) || str('sampler_index') || 'Euler',
      sampler_field: values.sampler_name ? 'sampler_name' : 'sampler_index',
      scheduler: values.scheduler as string | null,
      batch_size: num('batch_size'),
      n_iter: num('n_iter'),
      checkpoint: typeof overrides.sd_model_checkpoint === 'string' ? overrides.sd_model_checkpoint : null,
      send_images: values.send_images as boolean,
      save_images: values.save_images as boolean,
    },
  };
}

function unsupported(raw: Record<string, unknown>, values: Record<string, unknown>): FieldFault[] {
  const faults: FieldFault[] = [];
  for (const [key, field] of Object.entries(TXT2IMG_FIELDS)) {
    if (!field.inert || raw[key] === undefined || field.inert(values[key], values)) continue;
    // Name the script itself: `alwayson_scripts.ControlNet`, not just the field.
    const names =
      key === 'alwayson_scripts' ? Object.keys(values[key] as object).map((title) => ['body', key, title]) : [];
    for (const loc of names.length > 0 ? names : [['body', key]])
      faults.push({
        loc,
        msg: `${loc.slice(1).join('.')} is not supported by this server; send ${describeInert(key)} or leave it out`,
        type: 'value_error.unsupported',
      });
  }
  return faults;
}

function describeInert(key: string): string {
  const neutral: Record<string, string> = {
    subseed_strength: '0',
    seed_resize_from_h: '-1',
    seed_resize_from_w: '-1',
    s_noise: '1',
    eta: 'null',
  };
  if (key in neutral) return neutral[key]!;
  const field = TXT2IMG_FIELDS[key]!;
  return field.kind === 'bool' ? 'false' : field.kind === 'list' ? '[]' : field.kind === 'dict' ? '{}' : 'null';
}

function outOfRange(values: Record<string, unknown>): FieldFault[] {
  const faults: FieldFault[] = [];
  for (const [key, [min, max]] of Object.entries(LIMITS)) {
    const value = values[key] as number;
    if (value < min)
      faults.push({
        loc: ['body', key],
        msg: `ensure this value is greater than or equal to ${min}`,
        type: 'value_error.number.not_ge',
      });
    else if (value > max)
      faults.push({
        loc: ['body', key],
        msg: `ensure this value is less than or equal to ${max}`,
        type: 'value_error.number.not_le',
      });
  }
  for (const key of ['width', 'height']) {
    const value = values[key] as number;
    if (value % 8 !== 0 && !faults.some((f) => f.loc[1] === key))
      faults.push({
        loc: ['body', key],
        msg: `${value} is not a multiple of 8; the model works on 8-pixel blocks (A1111 would round it down)`,
        type: 'value_error.multiple_of',
      });
  }
  for (const key of ['seed', 'subseed']) {
    const value = values[key] as number;
    if (value < -1 || value >= SEED_LIMIT)
      faults.push({
        loc: ['body', key],
        msg: `a seed is -1 (random) or 0 to ${SEED_LIMIT - 1}`,
        type: 'value_error.number.not_in_range',
      });
  }
  return faults;
}

function overrideFaults(overrides: unknown): FieldFault[] {
  if (overrides === null) return [];
  const faults: FieldFault[] = [];
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (OVERRIDES_HONOURED.has(key)) {
      if (typeof value !== 'string')
        faults.push({ loc: ['body', 'override_settings', key], msg: 'str type expected', type: 'type_error.str' });
    } else if (!(key in OVERRIDES_AT_DEFAULT) || OVERRIDES_AT_DEFAULT[key] !== value) {
      faults.push({
        loc: ['body', 'override_settings', key],
        msg: `override_settings.${key} is not supported by this server; only sd_model_checkpoint is`,
        type: 'value_error.unsupported',
      });
    }
  }
  return faults;
}

type Coerced = { value: unknown; fault?: undefined } | { value?: undefined; fault: Omit<FieldFault, 'loc'> };

/** pydantic v1's lenient reading: `"20"` is 20, `7` is 7.0, `"true"` is true; what cannot be read is a fault. */
function coerce(kind: Kind, value: unknown): Coerced {
  switch (kind) {
    case 'int': {
      const number = typeof value === 'string' && /^\s*-?\d+\s*$/.test(value) ? Number(value) : value;
      if (typeof number === 'number' && Number.isInteger(number) && Number.isSafeInteger(number))
        return { value: number };
      return { fault: { msg: 'value is not a valid integer', type: 'type_error.integer' } };
    }
    case 'float': {
      const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
      if (typeof number === 'number' && Number.isFinite(number)) return { value: number };
      return { fault: { msg: 'value is not a valid float', type: 'type_error.float' } };
    }
    case 'bool': {
      if (typeof value === 'boolean') return { value };
      const word = String(value).trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(word) && typeof value !== 'object') return { value: true };
      if (['0', 'false', 'no', 'off'].includes(word) && typeof value !== 'object') return { value: false };
      return { fault: { msg: 'value could not be parsed to a boolean', type: 'type_error.bool' } };
    }
    case 'str':
      if (typeof value === 'string') return { value };
      if (typeof value === 'number' || typeof value === 'boolean') return { value: String(value) };
      return { fault: { msg: 'str type expected', type: 'type_error.str' } };
    case 'list':
      return Array.isArray(value)
        ? { value }
        : { fault: { msg: 'value is not a valid list', type: 'type_error.list' } };
    case 'dict':
      return typeof value === 'object' && value !== null && !Array.isArray(value)
        ? { value }
        : { fault: { msg: 'value is not a valid dict', type: 'type_error.dict' } };
  }
}

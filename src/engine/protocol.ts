// The TypeScript half of the engine protocol: the request we write to stdin and the events we accept on stdout.
// Mirrors engine/lora_scripts_engine/request.py (requests) and protocol.py (events); tests/fixtures/protocol/ holds
// examples of both, parsed by both test suites.
import { z } from 'zod';
import { configSchema } from '../config/index.js';
import { ProtocolError } from '../errors.js';

/** Bump when a field is renamed or removed; adding an optional event field keeps it. */
export const PROTOCOL_VERSION = 2;

// ---- requests: one strict schema per command, every value resolved (the engine keeps no defaults) ----------------

/** A config key's schema without its default: the engine is sent every key. */
type WithoutDefault<S> = S extends z.ZodDefault<infer Inner> ? Inner : S;
type ConfigShape = typeof configSchema.shape;

function withoutDefaults(shape: ConfigShape): { [K in keyof ConfigShape]: WithoutDefault<ConfigShape[K]> } {
  const entries = Object.entries(shape).map(([key, schema]) => [
    key,
    schema instanceof z.ZodDefault ? schema.unwrap() : schema,
  ]);
  return Object.fromEntries(entries) as { [K in keyof ConfigShape]: WithoutDefault<ConfigShape[K]> };
}

/** `auto` keys as resolveConfig leaves them: the number (with its range) the recommendation filled in. */
const recommended = <T extends z.ZodType>(schema: z.ZodDefault<z.ZodUnion<readonly [T, z.ZodLiteral<'auto'>]>>): T =>
  schema.unwrap().options[0];
/** `null` keys whose default resolveConfig derives (`lora_alpha: null` → 2 × rank). */
const derived = <T extends z.ZodType>(schema: z.ZodDefault<z.ZodNullable<T>>): T => schema.unwrap().unwrap();

const keys = configSchema.shape;

/** The train request's `config`: every key of config/schema.ts, as resolveConfig (config/resolve.ts) returns it. */
export const trainConfigSchema = z.strictObject({
  ...withoutDefaults(keys),
  lora_rank: recommended(keys.lora_rank),
  epochs: recommended(keys.epochs),
  batch_size: recommended(keys.batch_size),
  learning_rate: recommended(keys.learning_rate),
  lora_alpha: derived(keys.lora_alpha),
  text_encoder_lr: derived(keys.text_encoder_lr),
  text_encoder_2_lr: derived(keys.text_encoder_2_lr),
  output_dir: derived(keys.output_dir),
  output_name: derived(keys.output_name),
  target_modules: z.array(z.string().min(1)).min(1),
  /** `devices` as text (`single`, `all`, `cpu:2`, `0,1`): the launch (engine/devices.ts) has already applied it. */
  devices: z.string().min(1),
});

const baseFamily = z.enum(['sd1', 'sd2', 'sdxl', 'flux']);
/** Flux learns a velocity (rectified flow), not a noise or v target. */
const predictionType = z.enum(['epsilon', 'v_prediction', 'flow_matching']);
/** The checkpoint verdict (src/checkpoint) the engine loads with; null where the header cannot tell (hub ids, SD 2.x). */
const baseModelFacts = z.strictObject({
  family: baseFamily.nullable(),
  prediction_type: predictionType.nullable(),
});
const request = <C extends string>(command: C) => ({
  protocol: z.literal(PROTOCOL_VERSION),
  command: z.literal(command),
});

const trainRequest = z.strictObject({
  ...request('train'),
  config: trainConfigSchema,
  manifest: z.string().min(1),
  options: z.strictObject({
    /** `target_modules` expanded to module-name suffixes (train/target-modules.ts). */
    targets: z.array(
      z.strictObject({ name: z.string(), unet: z.array(z.string()), text_encoder: z.array(z.string()) }),
    ),
    /** The held-out pictures' manifest, when a validation loss is asked for. */
    validation_manifest: z.string().min(1).nullable(),
    /** Written into every saved state, compared before a resume (train/run-fingerprint.ts). */
    state_fingerprint: z.strictObject({
      config: z.record(z.string(), z.unknown()),
      dataset: z.string(),
      base_model: z.string(),
      init_lora: z.string().nullable(),
    }),
    /** What we read from the `init_lora` file; set exactly when `config.init_lora` is. */
    init_lora: z.strictObject({ family: z.enum(['sd1', 'sd2', 'sdxl']).nullable(), layers: z.int().min(0) }).nullable(),
    base_model_facts: baseModelFacts,
    /** Tests only: this step's loss becomes NaN. */
    test_nan_at_step: z.int().min(1).nullable(),
    /** Tests only: SIGKILL right after the final LoRA file, or after the final state, is written. */
    test_kill_at: z.enum(['lora_file', 'state']).nullable(),
  }),
});

const weightedSegments = z.array(z.tuple([z.string(), z.number()])).nullable();

const generateRequest = z.strictObject({
  ...request('generate'),
  options: z.strictObject({
    base_model: z.string().min(1),
    base_model_facts: baseModelFacts,
    out_dir: z.string().min(1),
    batches: z.array(
      z.strictObject({
        prompt: z.string(),
        negative_prompt: z.string(),
        /** `(word:1.2)` emphasis as [text, weight] pieces; null: the prompt goes to the pipeline as text. */
        prompt_segments: weightedSegments,
        negative_segments: weightedSegments,
        seeds: z.array(z.int().min(0)).min(1),
        files: z.array(z.string().min(1)).min(1),
        steps: z.int().min(1),
        cfg_scale: z.number(),
        width: z.int().min(8),
        height: z.int().min(8),
        /** A diffusers scheduler class and its `from_config` settings (generate/samplers.ts). */
        scheduler: z.strictObject({ class_name: z.string().min(1), config: z.record(z.string(), z.unknown()) }),
        loras: z.array(
          z.strictObject({ path: z.string().min(1), name: z.string(), te_weight: z.number(), unet_weight: z.number() }),
        ),
      }),
    ),
  }),
});

/** The long-lived renderer (engine generate_worker.py); each job then comes as a further stdin line (`workerJobSchema`). */
const generateWorkerRequest = z.strictObject({
  ...request('generate-worker'),
  options: z.strictObject({ out_dir: z.string().min(1) }),
});

/** One render job written to a running `generate-worker`: a batch of the `generate` request, on its base model. */
export const workerJobSchema = z.strictObject({
  job: z.string().min(1),
  base_model: z.string().min(1),
  base_model_facts: baseModelFacts,
  batch: generateRequest.shape.options.shape.batches.element,
});
export type WorkerJob = z.infer<typeof workerJobSchema>;
/** Stops a job of a running `generate-worker` at its next sampling step (or before it starts). */
export const workerCancelSchema = z.strictObject({ cancel: z.string().min(1) });

const renderStrengthsRequest = z.strictObject({
  ...request('render-strengths'),
  options: z.strictObject({
    base_model: z.string().min(1),
    base_model_facts: baseModelFacts,
    lora: z.string().min(1),
    prompts: z.array(z.string()).min(1),
    negative_prompt: z.string().nullable(),
    seeds: z.array(z.int().min(0)).min(1),
    strengths: z.array(z.number()).min(1),
    size: z.int().min(8),
    steps: z.int().min(1),
    guidance_scale: z.number(),
    out_dir: z.string().min(1),
  }),
});

const captionRequest = z.strictObject({
  ...request('caption'),
  options: z.strictObject({
    model: z.string().min(1),
    images: z.array(z.string().min(1)),
    batch_size: z.int().min(1),
    /** Florence-2 task prompt. */
    task: z.string().min(1),
    /** WD14: general tags above this probability. */
    threshold: z.number().min(0).max(1),
    max_new_tokens: z.int().min(1),
  }),
});

const makeCheckpointRequest = z.strictObject({
  ...request('make-checkpoint'),
  options: z.strictObject({
    /** flux-dev / flux-schnell: a diffusers folder, or the BFL transformer alone when `path` ends in .safetensors. */
    family: z.enum(['sd1', 'sd2', 'sdxl', 'flux-dev', 'flux-schnell']),
    path: z.string().min(1),
    full_size: z.boolean(),
    seed: z.int().min(0),
  }),
});

const doctorRequest = z.strictObject(request('doctor'));

export const engineRequestSchema = z.discriminatedUnion('command', [
  trainRequest,
  generateRequest,
  generateWorkerRequest,
  renderStrengthsRequest,
  captionRequest,
  makeCheckpointRequest,
  doctorRequest,
]);

export type EngineRequest = z.infer<typeof engineRequestSchema>;
export type EngineCommand = EngineRequest['command'];
export type RequestOf<C extends EngineCommand> = Extract<EngineRequest, { command: C }>;
/** What a caller hands to runEngine: the request without the version, which runEngine adds. */
export type RequestBodyOf<C extends EngineCommand> = Omit<RequestOf<C>, 'protocol'>;
export type EngineRequestBody = { [C in EngineCommand]: RequestBodyOf<C> }[EngineCommand];
export type OptionsOf<C extends Exclude<EngineCommand, 'doctor'>> = RequestOf<C>['options'];
export type TrainConfig = z.infer<typeof trainConfigSchema>;

/** Each command's request as JSON Schema: the engine's tests check its dataclasses' field names and types against it. */
export function engineRequestJsonSchemas(): Record<EngineCommand, Record<string, unknown>> {
  const entries = engineRequestSchema.options.map((schema) => [
    schema.shape.command.value,
    z.toJSONSchema(schema, { io: 'input' }),
  ]);
  return Object.fromEntries(entries) as Record<EngineCommand, Record<string, unknown>>;
}

/** Checks a request before it is written: a request the engine would refuse is our bug, caught here with its key. */
export function validateEngineRequest(candidate: unknown): EngineRequest {
  const result = engineRequestSchema.safeParse(candidate);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  // An unknown key is reported on its object: name the key itself, as the engine does.
  const key = formatPath(issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0]!] : issue.path);
  throw new ProtocolError(`invalid engine request: \`${key}\`: ${issue.message}`, {
    code: 'protocol_request_invalid',
    culprit: key,
    hint: 'this is a bug in lora-scripts: run with `--verbose` and report it',
  });
}

/** `options.batches[0].seeds`: the spelling the engine uses for the same key. */
function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, i) => (typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`))
    .join('');
}

// ---- events --------------------------------------------------------------------------------------------------------

const hello = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  engine: z.string(),
  device: z.string(),
  dtype: z.string(),
  dtype_reason: z.string(),
  /** A multi-process run (`devices`): how many processes train, and the pid of the first, which takes Ctrl-C. */
  processes: z.int().min(2).optional(),
  pid: z.int().min(1).optional(),
});

const stage = z.object({ type: z.literal('stage'), name: z.string(), message: z.string() });

const targetCount = z.object({ name: z.string(), unet: z.number().int(), text_encoder: z.number().int() });

const started = z.object({
  type: z.literal('started'),
  family: baseFamily,
  prediction_type: predictionType,
  /** Flux: FLUX.1-dev (takes a guidance value) or -schnell. */
  flux_variant: z.enum(['dev', 'schnell']).optional(),
  resolution: z.number().int(),
  num_images: z.number().int(),
  epochs: z.number().int(),
  steps_per_epoch: z.number().int(),
  total_steps: z.number().int(),
  layers: z.object({ unet: z.number().int(), text_encoder: z.number().int() }),
  targets: z.array(targetCount),
  trainable_params: z.number().int(),
  /** The UNet's ResNet layers per block: SDXL's kohya names (LDM layout) are numbered by it. */
  layers_per_block: z.number().int().optional(),
  /** The LoRA's rank and alpha: the config's, or those of `init_lora` when continuing a LoRA. */
  lora_rank: z.number().int().optional(),
  lora_alpha: z.number().optional(),
});

const progress = z.object({
  type: z.literal('progress'),
  step: z.number().int(),
  total_steps: z.number().int(),
  epoch: z.number().int(),
  loss: z.number(),
  loss_smoothed: z.number(),
  lr: z.number(),
  step_ms: z.number(),
  /** Achieved TFLOP/s of this step: FLOPs counted once by torch's counter (first step) over the step's time. */
  tflops: z.number().optional(),
});

const checkpoint = z.object({
  type: z.literal('checkpoint'),
  step: z.number().int(),
  epoch: z.number().int(),
  path: z.string(),
  is_final: z.boolean(),
});

const sample = z.object({ type: z.literal('sample'), step: z.number().int(), prompt: z.string(), path: z.string() });

/** Loss on the held-out pictures at fixed noise and timesteps (engine/lora_scripts_engine/validation.py). */
const validation = z.object({
  type: z.literal('validation'),
  step: z.number().int(),
  epoch: z.number().int(),
  loss: z.number(),
  images: z.number().int(),
});

/** One drafted caption (`caption` command); `index` of `total` gives the progress. */
const caption = z.object({
  type: z.literal('caption'),
  image: z.string(),
  caption: z.string(),
  index: z.number().int(),
  total: z.number().int(),
});

/** A `generate-worker` job finished: its PNGs, or none when it was cancelled. */
const jobDone = z.object({
  type: z.literal('job_done'),
  job: z.string(),
  files: z.array(z.string()),
  cancelled: z.boolean(),
});

/** A `generate-worker` job's sampling step `step` of `steps`, on image `image` (from 0) of `images`. */
const renderProgress = z.object({
  type: z.literal('render_progress'),
  job: z.string(),
  image: z.number().int(),
  images: z.number().int(),
  step: z.number().int(),
  steps: z.number().int(),
});

const warning = z.object({
  type: z.literal('warning'),
  code: z.string(),
  message: z.string(),
  hint: z.string().nullish(),
});

const info = z.object({ type: z.literal('info'), data: z.record(z.string(), z.unknown()) });

const done = z.object({
  type: z.literal('done'),
  files: z.array(z.string()),
  steps: z.number().int().optional(),
  epoch: z.number().int().optional(),
  interrupted: z.boolean().optional(),
  started_at: z.number().optional(),
  finished_at: z.number().optional(),
});

const error = z.object({
  type: z.literal('error'),
  code: z.string(),
  message: z.string(),
  culprit: z.string().nullish(),
  hint: z.string().nullish(),
  traceback: z.string().nullish(),
  /** `generate-worker`: the job that failed; the worker goes on with the next one. */
  job: z.string().nullish(),
});

export const engineEventSchema = z.discriminatedUnion('type', [
  hello,
  stage,
  started,
  progress,
  checkpoint,
  sample,
  validation,
  caption,
  warning,
  info,
  jobDone,
  renderProgress,
  done,
  error,
]);

export type EngineEvent = z.infer<typeof engineEventSchema>;
export type EventOf<T extends EngineEvent['type']> = Extract<EngineEvent, { type: T }>;

/** Parses one stdout line; anything that is not a valid event is a ProtocolError naming the line. */
export function parseEngineLine(line: string): EngineEvent {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    throw new ProtocolError(`the engine printed a line that is not a protocol event: ${truncate(line)}`, {
      code: 'protocol_garbage',
      culprit: 'engine stdout',
      hint: 'something in the engine printed to stdout; run with `--verbose` and report it',
    });
  }
  const result = engineEventSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new ProtocolError(
      `invalid engine event (${issue?.path.join('.') ?? '?'}: ${issue?.message ?? '?'}): ${truncate(line)}`,
      {
        code: 'protocol_invalid',
        culprit: 'engine stdout',
        hint: 'the CLI and the engine may come from different versions: run `lora-scripts setup`',
      },
    );
  }
  if (result.data.type === 'hello' && result.data.protocol !== PROTOCOL_VERSION) {
    throw new ProtocolError(`the engine speaks protocol ${result.data.protocol}, this CLI speaks ${PROTOCOL_VERSION}`, {
      code: 'protocol_mismatch',
      culprit: 'engine',
      hint: 'run `lora-scripts setup`',
    });
  }
  return result.data;
}

function truncate(line: string): string {
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}

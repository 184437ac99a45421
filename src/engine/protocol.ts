// The TypeScript half of the engine protocol: the request we write to stdin and the events we accept on stdout.
// Mirrors engine/lora_scripts_engine/protocol.py; tests/fixtures/protocol/*.jsonl are parsed by both test suites.
import { z } from 'zod';
import { ProtocolError } from '../errors.js';

/** Bump when a field is renamed or removed; adding an optional field keeps it. */
export const PROTOCOL_VERSION = 1;

export type EngineCommand = 'train' | 'doctor' | 'make-checkpoint' | 'render-strengths' | 'caption' | 'generate';

export interface EngineRequest {
  protocol: number;
  command: EngineCommand;
  config?: Record<string, unknown>;
  manifest?: string;
  options?: Record<string, unknown>;
}

const hello = z.object({
  type: z.literal('hello'),
  protocol: z.number().int(),
  engine: z.string(),
  device: z.string(),
  dtype: z.string(),
  dtype_reason: z.string(),
});

const stage = z.object({ type: z.literal('stage'), name: z.string(), message: z.string() });

const targetCount = z.object({ name: z.string(), unet: z.number().int(), text_encoder: z.number().int() });

const started = z.object({
  type: z.literal('started'),
  family: z.enum(['sd1', 'sd2', 'sdxl']),
  prediction_type: z.enum(['epsilon', 'v_prediction']),
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
const validation = z.object({ type: z.literal('validation'), step: z.number().int(), epoch: z.number().int(), loss: z.number(), images: z.number().int() });

/** One drafted caption (`caption` command); `index` of `total` gives the progress. */
const caption = z.object({ type: z.literal('caption'), image: z.string(), caption: z.string(), index: z.number().int(), total: z.number().int() });

const warning = z.object({ type: z.literal('warning'), code: z.string(), message: z.string(), hint: z.string().nullish() });

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
});

export const engineEventSchema = z.discriminatedUnion('type', [hello, stage, started, progress, checkpoint, sample, validation, caption, warning, info, done, error]);

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
    throw new ProtocolError(`invalid engine event (${issue?.path.join('.') ?? '?'}: ${issue?.message ?? '?'}): ${truncate(line)}`, {
      code: 'protocol_invalid',
      culprit: 'engine stdout',
      hint: 'the CLI and the engine may come from different versions: run `lora-scripts setup`',
    });
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
  return line.length > 160 ? line.slice(0, 157) + '...' : line;
}

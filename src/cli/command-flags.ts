// Every command's flags, one table each: main.ts declares them to cac (help text, defaults) and the command parses
// them with the same table (cli/flag-values.ts). Config keys are not here: `train` takes them from config/schema.ts.
// Imports single files, not dataset/index.ts or label/index.ts (sharp), so `--help` stays fast.
import { z } from 'zod';
import { DEFAULT_TARGET_PX, DEFAULT_THRESHOLDS, type QualityThresholds } from '../dataset/findings.js';
import { FLORENCE_CAPTION_TASKS } from '../label/model-captioner.js';
import { anyText, decimal, defineFlags, integer, list, numeric, text, toggle } from './flag-values.js';

const FAMILIES = ['sd1', 'sd2', 'sdxl'] as const;
const SEED_MAX = 2 ** 32 - 1;
const family = (help: string) => ({ schema: z.enum(FAMILIES).optional(), value: '<family>', help });
const out = (help: string) => ({ schema: text(), value: '<file>', help });
const sets = (help: string) => ({ schema: list(text()), value: '<key=value>', help });
const layers = { schema: toggle(), help: 'Print the rank and kept energy of every layer' };

/** `--server URL`: the command's job goes to a studio server (src/cli/server-client.ts) instead of running here. */
const SERVER_FLAGS = {
  server: {
    schema: text().optional(),
    value: '<url>',
    help: "Submit the job to a studio server (`lora-scripts serve`'s URL) and follow it there; paths are its workspace's",
  },
  token: {
    schema: text().optional(),
    value: '<token>',
    help: "The server's token, when it needs one (a `?token=` in the --server URL works too)",
  },
};

const CONFIG_SOURCE_FLAGS = {
  config: { schema: text().optional(), value: '<file>', help: 'YAML config file' },
  set: sets('Override any config key (repeatable)'),
};

export const TRAIN_FLAGS = defineFlags('train', { ...CONFIG_SOURCE_FLAGS, ...SERVER_FLAGS });

export const RECOMMEND_FLAGS = defineFlags('recommend', CONFIG_SOURCE_FLAGS);

export const SETUP_FLAGS = defineFlags('setup', {
  force: { schema: toggle(), help: 'Reinstall even if up to date' },
  withTests: { schema: toggle(), help: "Also install the engine's test dependencies" },
});

export const CONFIG_FLAGS = defineFlags('config', {
  write: { schema: text().optional(), value: '<file>', help: 'Update the generated reference inside this file' },
});

export const GENERATE_FLAGS = defineFlags('generate', {
  prompt: {
    schema: list(text()),
    value: '<text>',
    help: 'Prompt; `<lora:NAME:WEIGHT>` or `<lora:NAME:TE_WEIGHT:UNET_WEIGHT>` tags pick LoRAs by name (repeatable)',
  },
  promptsFile: {
    schema: text().optional(),
    value: '<file>',
    help: 'One prompt per line, each with its own LoRA tags; all rendered on one base-model load',
  },
  negativePrompt: { schema: anyText().optional(), value: '<text>', help: 'Negative prompt (default: empty)' },
  lora: {
    schema: list(text()),
    value: '<file:weight>',
    help: 'A LoRA file with its weight, `FILE:0.7` or `FILE:TE:UNET` (repeatable)',
  },
  loraDir: {
    schema: list(text()),
    value: '<dir>',
    help: 'Folder searched for `<lora:NAME>` by file stem or ss_output_name, sub-folders too (repeatable; default: output)',
  },
  baseModel: {
    schema: text().optional(),
    value: '<file>',
    help: 'Single-file checkpoint or diffusers folder (default: the one recorded beside the first LoRA)',
  },
  seed: {
    schema: integer(-1, SEED_MAX).optional(),
    value: '<n>',
    help: 'Seed of the first image; image i gets seed + i (default: random, printed; also `--seed=-1`)',
  },
  steps: { schema: integer(1, 150).optional(), value: '<n>', help: 'Sampling steps (default: 20)' },
  cfgScale: { schema: decimal(0, 30).optional(), value: '<x>', help: 'Classifier-free guidance scale (default: 7)' },
  sampler: {
    schema: text().optional(),
    value: '<name>',
    help: 'WebUI sampler name: Euler a, Euler, DPM++ 2M, DPM++ 2M Karras, DDIM, UniPC, Heun, LMS… (default: Euler a)',
  },
  scheduleType: {
    schema: text().optional(),
    value: '<name>',
    help: 'Automatic, Karras or Exponential (default: Automatic)',
  },
  width: {
    schema: sizePx().optional(),
    value: '<px>',
    help: "Width (default: the first LoRA's training size, else 512)",
  },
  height: {
    schema: sizePx().optional(),
    value: '<px>',
    help: "Height (default: the first LoRA's training size, else 512)",
  },
  batchCount: { schema: integer(1, 1000).optional(), value: '<n>', help: 'Batches, one after the other (default: 1)' },
  batchSize: { schema: integer(1, 64).optional(), value: '<n>', help: 'Images per batch (default: 1)' },
  out: { schema: text().optional(), value: '<dir>', help: 'Output folder (default: output/images)' },
  fromPng: {
    schema: text().optional(),
    value: '<file>',
    help: "Start from an image's WebUI parameters; flags given override them",
  },
  workspace: {
    schema: text().default('workspace'),
    value: '<dir>',
    help: 'Studio workspace whose style library `<lora:NAME>` is looked up in first, its promoted version (default: workspace)',
  },
  ...SERVER_FLAGS,
});

function sizePx() {
  return numeric(z.int().min(64).max(4096).multipleOf(8));
}

export const MAKE_CHECKPOINT_FLAGS = defineFlags('make-checkpoint', {
  family: {
    schema: z.enum([...FAMILIES, 'flux-dev', 'flux-schnell']).default('sd1'),
    value: '<family>',
    help: 'Model family (flux-dev/flux-schnell: a diffusers folder, or the transformer alone for a .safetensors --out)',
  },
  out: out('Output .safetensors (a folder for flux-dev/flux-schnell)'),
  fullSize: { schema: toggle(), help: 'Real SD 1.5 shapes (~2 GB in fp16) instead of a tiny model' },
  seed: { schema: integer(0, SEED_MAX).default(0), value: '<n>', help: 'Random seed' },
});

export const AUTO_LABEL_FLAGS = defineFlags('auto-label', {
  input: { schema: text(), value: '<dir>', help: 'Image folder' },
  output: { schema: text().optional(), value: '<file>', help: 'CSV to write (default: <input>/metadata.csv)' },
  triggerWord: { schema: text().optional(), value: '<word>', help: 'Put first in every caption' },
  prefix: { schema: text().optional(), value: '<text>', help: 'Text after the trigger word' },
  suffix: { schema: text().optional(), value: '<text>', help: 'Text at the end' },
  overwrite: { schema: toggle(), help: 'Replace existing captions too' },
  dryRun: { schema: toggle(), help: 'Print the captions, write nothing' },
  model: {
    schema: text().optional(),
    value: '<dir|id>',
    help: 'Captioning model: a BLIP, Florence-2 or WD14 tagger folder, or a hub id (default: the rule-based captioner)',
  },
  batchSize: { schema: integer(1, 1024).default(8), value: '<n>', help: 'Images per model batch' },
  task: {
    schema: z.enum(FLORENCE_CAPTION_TASKS).default('<DETAILED_CAPTION>'),
    value: '<prompt>',
    help: 'Florence-2 task',
  },
  threshold: {
    schema: decimal(0, 1).default(0.35),
    value: '<p>',
    help: 'WD14 tagger: keep general tags above this probability',
  },
  maxTokens: {
    schema: integer(1, 4096).default(75),
    value: '<n>',
    help: 'BLIP and Florence-2: longest caption in tokens',
  },
  ...SERVER_FLAGS,
});

export const DEMO_DATA_FLAGS = defineFlags('demo-data', {
  out: { schema: text().default('data/demo'), value: '<dir>', help: 'Output folder' },
  style: {
    schema: text().default('jiangnan'),
    value: '<name>',
    help: 'jiangnan, lingnan, northern_snow, desert_town, neon_night, generic, or all (every style in one folder)',
  },
  count: { schema: integer(1, 100_000).default(12), value: '<n>', help: 'Number of images' },
  seed: { schema: integer(0, SEED_MAX).default(0), value: '<n>', help: 'Random seed' },
  size: { schema: integer(8, 4096).default(64), value: '<px>', help: 'Image size' },
});

export const DEMO_FLAGS = defineFlags('demo', {
  out: { schema: text().default('output/demo'), value: '<dir>', help: 'Working folder' },
  set: sets('Override a key of the demo config, e.g. `--set mixed_precision=bf16` (repeatable)'),
});

export const MERGE_FLAGS = defineFlags(
  'merge',
  { out: out('The merged checkpoint (same layout and dtypes as the base)'), ...SERVER_FLAGS },
  '`lora-scripts merge base.safetensors style.safetensors:0.8 --out merged.safetensors`',
);

const rank = (help: string) => ({ schema: integer(1, 65536).optional(), value: '<r>', help });

export const COMBINE_FLAGS = defineFlags(
  'combine',
  {
    out: out('The combined LoRA (kohya format)'),
    rank: rank('Cut each module to at most this rank by SVD (default: ranks add up, the sum is exact)'),
    family: family('Needed only for diffusers/PEFT inputs'),
    layers,
  },
  '`lora-scripts combine a.safetensors:0.6 b.safetensors:0.4 --out ab.safetensors`',
);

export const RESIZE_FLAGS = defineFlags('resize', {
  out: out('The resized LoRA (kohya format)'),
  rank: rank('At most this rank per layer'),
  energy: {
    schema: numeric(z.number().gt(0).max(1)).optional(),
    value: '<e>',
    help: "Smallest rank keeping this share of each layer's ‖ΔW‖², e.g. 0.95",
  },
  family: family('Needed only for diffusers/PEFT inputs'),
  layers,
});

export const INSPECT_FLAGS = defineFlags('inspect', {
  layers: { schema: toggle(), help: 'List every layer with its rank and alpha' },
  json: { schema: toggle(), help: 'Print the report as JSON' },
  hash: { schema: z.boolean().default(true), isNegated: true, help: 'Skip hashing (which reads the whole file once)' },
});

export const CONVERT_FLAGS = defineFlags(
  'convert',
  {
    to: { schema: z.enum(['kohya', 'diffusers']), value: '<format>', help: 'Key format to write' },
    out: out('The converted .safetensors (never the input)'),
    family: family('Default: detected from the layers and metadata'),
  },
  'e.g. `lora-scripts convert my.safetensors --to diffusers --out my-diffusers.safetensors`',
);

/** Training size when `--target` is not given (dataset/findings.ts: the studio's prepare jobs use it too). */
export { DEFAULT_TARGET_PX };

const threshold = (key: keyof QualityThresholds, min: number, help: string) => ({
  key,
  spec: { schema: numeric(z.number().min(min)).default(DEFAULT_THRESHOLDS[key]), value: '<n>', help },
});

/** prepare's quality thresholds: flag name → the threshold it sets. */
export const THRESHOLD_FLAGS = {
  maxUpscale: threshold(
    'maxUpscale',
    1,
    'Exclude pictures needing more upscaling than this to reach the target (any upscaling warns)',
  ),
  minSharpness: threshold(
    'minSharpness',
    0,
    'Exclude blurry pictures: Laplacian variance ÷ brightness variance at 384 px below this',
  ),
  minBright: threshold(
    'minBrightPercentile',
    0,
    'Exclude under-exposed pictures: brightest 1 % of pixels below this (0–255)',
  ),
  maxDark: threshold('maxDarkPercentile', 0, 'Exclude over-exposed pictures: darkest 1 % of pixels above this (0–255)'),
  minContrast: threshold(
    'minContrast',
    0,
    'Warn about flat pictures: brightness standard deviation below this (0–128)',
  ),
  maxAspect: threshold('maxAspect', 1, 'Warn when long side ÷ short side is above this (also the widest bucket)'),
  duplicateDistance: threshold(
    'duplicateDistance',
    0,
    'Exclude the later of two pictures whose perceptual hashes differ in ≤ this many of 64 bits',
  ),
  minCaptionWords: threshold('minCaptionWords', 0, 'Warn about captions of fewer words'),
  duplicateCaptionCount: threshold(
    'duplicateCaptionCount',
    0,
    'Warn when this many pictures or more share one caption',
  ),
} as const;

export const PREPARE_FLAGS = defineFlags('prepare', {
  out: {
    schema: text().optional(),
    value: '<dir>',
    help: 'Prepared folder (default: <dir>-prepared beside it); replaced on re-runs, the originals are never touched',
  },
  target: {
    schema: sizePx().default(DEFAULT_TARGET_PX),
    value: '<px>',
    help: 'Training size: square crops of this size, or buckets of about this many pixels²',
  },
  crop: {
    schema: z.enum(['center', 'attention', 'entropy']).default('center'),
    value: '<position>',
    help: 'center, attention (the most salient part) or entropy (the busiest part)',
  },
  buckets: {
    schema: toggle(),
    help: 'Aspect-ratio buckets (64 px steps, up to --max-aspect) instead of square crops; a folder per bucket',
  },
  strict: {
    schema: toggle(),
    help: 'Fail (exit 1) when any picture is flagged for exclusion; only the report is written',
  },
  triggerWord: { schema: text().optional(), value: '<word>', help: 'Warn about captions without it' },
  metadata: {
    schema: text().optional(),
    value: '<file>',
    help: 'Caption CSV (default: <dir>/metadata.csv if present, else .txt files beside the pictures)',
  },
  captionExtension: { schema: text().default('.txt'), value: '<ext>', help: 'Caption file extension' },
  jobs: {
    schema: integer(1, 64).optional(),
    value: '<n>',
    help: 'Pictures processed at once (default: twice the number of CPU cores)',
  },
  json: { schema: toggle(), help: 'Print the JSON report to stdout instead of the folder path' },
  maxUpscale: THRESHOLD_FLAGS.maxUpscale.spec,
  minSharpness: THRESHOLD_FLAGS.minSharpness.spec,
  minBright: THRESHOLD_FLAGS.minBright.spec,
  maxDark: THRESHOLD_FLAGS.maxDark.spec,
  minContrast: THRESHOLD_FLAGS.minContrast.spec,
  maxAspect: THRESHOLD_FLAGS.maxAspect.spec,
  duplicateDistance: THRESHOLD_FLAGS.duplicateDistance.spec,
  minCaptionWords: THRESHOLD_FLAGS.minCaptionWords.spec,
  duplicateCaptionCount: THRESHOLD_FLAGS.duplicateCaptionCount.spec,
  ...SERVER_FLAGS,
});

/** Where the studio's records are: the workspace's SQLite file by default, or a shared PostgreSQL (docs/scale-out.md). */
const DATABASE_FLAG = {
  db: {
    schema: text().optional(),
    value: '<url>',
    help: "Keep jobs, the style library and experiments in PostgreSQL (`postgres://user:pass@host:5432/db`) instead of the workspace's .lora-scripts/studio.db",
  },
};

/** The Redis a studio and its workers share the job queue on (docs/scale-out.md). */
const QUEUE_FLAG = {
  queue: {
    schema: text().optional(),
    value: '<url>',
    help: 'Put jobs on a Redis queue (`redis://host:6379`) for `lora-scripts worker` processes, on any machine, to run',
  },
};

export const SERVE_FLAGS = defineFlags('serve', {
  port: {
    schema: integer(0, 65535).default(6008),
    value: '<n>',
    help: 'TCP port to listen on; 0 takes a free one (the printed URL shows which)',
  },
  host: {
    schema: text().default('127.0.0.1'),
    value: '<address>',
    help: 'Address to bind; anything but loopback needs a token (one is made and printed when none is given)',
  },
  workspace: {
    schema: text().default('workspace'),
    value: '<dir>',
    help: 'Folder the studio reads and writes in, created when missing; the job store is .lora-scripts/studio.db in it',
  },
  token: {
    schema: text().optional(),
    value: '<token>',
    help: 'Secret API clients send as `Authorization: Bearer <token>` (at least 16 characters)',
  },
  resumeInterrupted: {
    schema: toggle(),
    help: 'Queue the interrupted jobs again at start (a server that was killed, or stopped, mid-training)',
  },
  ...DATABASE_FLAG,
  ...QUEUE_FLAG,
});

export const WORKER_FLAGS = defineFlags(
  'worker',
  {
    queue: { ...QUEUE_FLAG.queue, schema: text(), help: 'The Redis the studio queues jobs on (`redis://host:6379`)' },
    workspace: {
      schema: text().default('workspace'),
      value: '<dir>',
      help: "The studio's workspace as this machine mounts it (shared storage: every worker and the studio see the same files)",
    },
    db: {
      ...DATABASE_FLAG.db,
      help: "The studio's `--db`, where generate jobs look up `<lora:NAME>` in the style library (default: the workspace's SQLite file); job records themselves go back through the queue",
    },
    device: {
      schema: text().default('auto'),
      value: '<device>',
      help: 'Device the jobs run on: `auto`, `cpu`, `cuda`, `cuda:1`… (sets CUDA_VISIBLE_DEVICES for the engine)',
    },
    concurrency: {
      schema: integer(1, 64).default(1),
      value: '<n>',
      help: 'Jobs this worker runs at once (1 per GPU is the rule)',
    },
    name: {
      schema: text().optional(),
      value: '<name>',
      help: 'How the studio lists this worker (default: host name and process id)',
    },
    preload: {
      schema: text().optional(),
      value: '<model>',
      help: 'Load this base model (workspace-relative or absolute) into the render engine before taking renders, so the first cover does not wait for it',
    },
  },
  'lora-scripts worker --queue redis://10.0.0.5:6379 --workspace /mnt/studio --device cuda:0',
);

const place = (level: string, example: string) => ({
  schema: text().optional(),
  value: '<name>',
  help: `The reader's ${level} (\`${example}\`); the style is the first mapping of city → province → region → default`,
});

export const COVERS_FLAGS = defineFlags(
  'covers',
  {
    city: place('city', '杭州'),
    province: place('province', '浙江'),
    region: place('region', '江南'),
    title: {
      schema: text().optional(),
      value: '<text>',
      help: "The cover's title: in the style's prompt template and on the picture",
    },
    prompt: { schema: anyText().optional(), value: '<text>', help: "Extra prompt words: the template's `{prompt}`" },
    n: { schema: integer(1, 8).default(1), value: '<n>', help: 'How many covers' },
    seed: {
      schema: integer(0, SEED_MAX).optional(),
      value: '<n>',
      help: 'Seed of the first cover, cover i gets seed + i (default: derived from the title and prompt)',
    },
    size: { schema: text().default('512x512'), value: '<WxH>', help: 'Picture size in px, each side a multiple of 8' },
    titleOnImage: { schema: z.boolean().default(true), isNegated: true, help: 'Leave the title off the picture' },
    workspace: {
      schema: text().default('workspace'),
      value: '<dir>',
      help: "The studio's workspace: its style library decides the style, and covers are written to its covers/ folder",
    },
    ...DATABASE_FLAG,
    baseModel: {
      schema: text().optional(),
      value: '<file>',
      help: 'Base model for a style version whose base model the library does not know',
    },
    json: { schema: toggle(), help: 'Print the result as JSON' },
  },
  'lora-scripts covers --province 浙江 --title "江南水乡 · 雨中游" --n 2',
);

/** Where the style library and region commands keep their data: the studio's workspace. */
const LIBRARY_WORKSPACE_FLAG = {
  workspace: {
    schema: text().default('workspace'),
    value: '<dir>',
    help: "Studio workspace: the library is in its .lora-scripts/studio.db, the versions' files in its library/ (default: workspace)",
  },
  ...DATABASE_FLAG,
  json: { schema: toggle(), help: 'Print JSON instead of text' },
};

export const LIBRARY_FLAGS = defineFlags(
  'library',
  {
    style: {
      schema: text().optional(),
      value: '<name>',
      help: 'Style name for `library add` (goes into `<lora:NAME:0.7>`)',
    },
    strength: { schema: decimal(-4, 4).optional(), value: '<x>', help: 'Recommended strength (default: 1)' },
    triggerWord: {
      schema: list(text()),
      value: '<word>',
      help: "Trigger word (repeatable; default: the run's `trigger_word`)",
    },
    tag: { schema: list(text()), value: '<tag>', help: 'Tag (repeatable)' },
    notes: { schema: anyText().optional(), value: '<text>', help: 'Notes' },
    baseModel: {
      schema: text().optional(),
      value: '<path>',
      help: 'Base model to render with, relative to the workspace (default: the one its run recorded)',
    },
    sampleGrid: {
      schema: list(text()),
      value: '<png>',
      help: 'Sample picture, relative to the workspace (repeatable)',
    },
    promptTemplate: {
      schema: anyText().optional(),
      value: '<text>',
      help: "The style's prompt template: `{title}`, `{prompt}`, `{style}`, `{strength}`, `{trigger_words}`",
    },
    ...LIBRARY_WORKSPACE_FLAG,
  },
  'lora-scripts library add output/jiangnan/jiangnan.safetensors --style jiangnan_style --strength 0.7',
);

export const REGION_FLAGS = defineFlags(
  'region',
  {
    style: { schema: text().optional(), value: '<name>', help: 'Style the place gets (`region set`)' },
    city: { schema: text().optional(), value: '<name>', help: 'City' },
    province: { schema: text().optional(), value: '<name>', help: 'Province' },
    region: { schema: text().optional(), value: '<name>', help: 'Region (e.g. `East China`)' },
    default: { schema: toggle(), help: 'The catch-all rule, for places no other rule matches (`region set`)' },
    version: {
      schema: integer(1, 1_000_000).optional(),
      value: '<n>',
      help: 'Pin a version (default: the promoted one)',
    },
    from: { schema: text().optional(), value: '<time>', help: 'Rule holds from (ISO date or time, e.g. 2026-07-01)' },
    until: { schema: text().optional(), value: '<time>', help: 'Rule holds until, exclusive (ISO date or time)' },
    at: { schema: text().optional(), value: '<time>', help: 'Resolve at this time (`region resolve`; default: now)' },
    ...LIBRARY_WORKSPACE_FLAG,
  },
  'lora-scripts region set --province Zhejiang --style jiangnan_style',
);

export const EXPERIMENT_FLAGS = defineFlags(
  'experiment',
  {
    arm: {
      schema: list(text()),
      value: '<name:weight[:style[:strength]]>',
      help: 'An arm (`create`, repeatable; the first is the control unless --control says)',
    },
    control: { schema: text().optional(), value: '<arm>', help: 'The arm the others are compared with (`create`)' },
    name: { schema: text().optional(), value: '<text>', help: 'A readable name (`create`)' },
    salt: { schema: text().optional(), value: '<text>', help: 'Assignment hash salt (`create`; default: the id)' },
    baselineCtr: {
      schema: decimal(0, 1).optional(),
      value: '<p>',
      help: "The control's expected CTR (`create`, `plan`)",
    },
    lift: {
      schema: decimal(0, 10).optional(),
      value: '<x>',
      help: 'Smallest relative lift worth detecting, 0.23 = +23 % (`create`, `plan`)',
    },
    users: {
      schema: integer(10, 1e10).optional(),
      value: '<n>',
      help: 'Control users available: `plan` gives the lift they detect',
    },
    alpha: { schema: decimal(0.001, 0.2).optional(), value: '<α>', help: 'Two-sided test level (default: 0.05)' },
    power: { schema: decimal(0.5, 0.99).optional(), value: '<p>', help: 'Power wanted (default: 0.8)' },
    treatmentRatio: {
      schema: decimal(0.01, 100).default(1),
      value: '<k>',
      help: 'Treatment users per control user (`plan`)',
    },
    file: {
      schema: text().optional(),
      value: '<path>',
      help: '`ingest`: events as JSON lines; `import`: counts CSV (day,arm,users,clicks[,segment])',
    },
    ctr: {
      schema: list(text()),
      value: '<arm=ctr>',
      help: '`simulate`: the true CTR of an arm, `regional=0.0615` (repeatable; arms not named get the first one)',
    },
    days: { schema: integer(1, 3650).default(14), value: '<n>', help: '`simulate`: days of traffic' },
    usersPerDay: { schema: integer(1, 10_000_000).default(1000), value: '<n>', help: '`simulate`: new users a day' },
    seed: {
      schema: integer(0, SEED_MAX).default(1),
      value: '<n>',
      help: '`simulate`: random seed (same seed, same traffic)',
    },
    segment: {
      schema: list(text()),
      value: '<name>',
      help: '`simulate`: spread users over these segments (repeatable)',
    },
    csv: { schema: toggle(), help: '`report` as CSV' },
    out: { schema: text().optional(), value: '<file>', help: '`report`: write here instead of printing' },
    workspace: {
      schema: text().default('workspace'),
      value: '<dir>',
      help: 'Studio workspace: experiments live in its .lora-scripts/studio.db',
    },
    ...DATABASE_FLAG,
    json: { schema: toggle(), help: 'Print JSON instead of text' },
  },
  'lora-scripts experiment create covers-2026-12 --arm generic:1 --arm regional:1:jiangnan_style:0.7 --baseline-ctr 0.05 --lift 0.23',
);

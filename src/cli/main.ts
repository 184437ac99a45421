// The CLI: cac wiring and the single place where errors are printed. Commands load only when they run.
import { cac } from 'cac';
import { CONFIG_KEYS, describeAllowed, flagName, metaOf } from '../config/index.js';
import { EXIT_CODES, LoraScriptsError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import type { CommandContext } from './context.js';
import { DEFAULT_TARGET_PX, DEFAULT_THRESHOLDS, THRESHOLD_FLAGS } from './prepare-flags.js';

function printError(error: unknown, verbose: boolean): number {
  if (error instanceof LoraScriptsError) {
    process.stderr.write(`error: ${error.line}\n`);
    if (error.hint) process.stderr.write(`\nhint: ${error.hint}\n`);
    if (verbose && error.cause) process.stderr.write(`\n${String(error.cause)}\n`);
    return error.exitCode;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`internal error: ${message.split('\n')[0]} (please report it; --verbose shows the traceback)\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`\n${error.stack}\n`);
  return EXIT_CODES.internal;
}

function buildCli(run: (action: (ctx: CommandContext) => Promise<number> | number) => void) {
  const cli = cac('lora-scripts');
  cli.option('--verbose', 'Show engine logs and tracebacks');

  const train = cli.command('train', 'Train a LoRA from a YAML config (every config key is also a flag)').option('--config <file>', 'YAML config file').option('--set <key=value>', 'Override any config key (repeatable)');
  for (const key of CONFIG_KEYS) {
    const isBoolean = describeAllowed(key).startsWith('`true`');
    const value = metaOf(key).bareFlagValue ? ' [value]' : ' <value>';
    train.option(`--${flagName(key)}${isBoolean ? '' : value}`, `${metaOf(key).description} (${describeAllowed(key)})`);
  }
  train.action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/train.js')).trainCommand(flags, ctx)));

  cli
    .command('setup', "Create or update the engine's Python environment (run automatically on first use)")
    .option('--force', 'Reinstall even if up to date')
    .option('--with-tests', "Also install the engine's test dependencies")
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/setup.js')).setupCommand(flags, ctx)));

  cli.command('doctor', 'Print Python, torch, diffusers and peft versions and the device; say what is wrong').action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/setup.js')).doctorCommand(flags, ctx)),
  );

  cli
    .command('config [action]', 'Config keys: `config keys`, `config reference [--write README.md]`, `config schema`')
    .option('--write <file>', 'Update the generated reference inside this file')
    .action((action: string | undefined, flags: Record<string, unknown>) => run(async () => (await import('./commands/config.js')).configCommand(action, flags)));

  cli
    .command('generate', 'Render images with a base model and LoRAs from a WebUI-style prompt; PNGs carry WebUI `parameters`')
    .option('--prompt <text>', 'Prompt; `<lora:NAME:WEIGHT>` or `<lora:NAME:TE_WEIGHT:UNET_WEIGHT>` tags pick LoRAs by name (repeatable)')
    .option('--prompts-file <file>', 'One prompt per line, each with its own LoRA tags; all rendered on one base-model load')
    .option('--negative-prompt <text>', 'Negative prompt (default: empty)')
    .option('--lora <file:weight>', 'A LoRA file with its weight, `FILE:0.7` or `FILE:TE:UNET` (repeatable)')
    .option('--lora-dir <dir>', 'Folder searched for `<lora:NAME>` by file stem or ss_output_name, sub-folders too (repeatable; default: output)')
    .option('--base-model <file>', 'Single-file checkpoint or diffusers folder (default: the one recorded beside the first LoRA)')
    .option('--seed <n>', 'Seed of the first image; image i gets seed + i (default: random, printed; also `--seed=-1`)')
    .option('--steps <n>', 'Sampling steps (default: 20)')
    .option('--cfg-scale <x>', 'Classifier-free guidance scale (default: 7)')
    .option('--sampler <name>', 'WebUI sampler name: Euler a, Euler, DPM++ 2M, DPM++ 2M Karras, DDIM, UniPC, Heun, LMS… (default: Euler a)')
    .option('--schedule-type <name>', 'Automatic, Karras or Exponential (default: Automatic)')
    .option('--width <px>', "Width (default: the first LoRA's training size, else 512)")
    .option('--height <px>', "Height (default: the first LoRA's training size, else 512)")
    .option('--batch-count <n>', 'Batches, one after the other (default: 1)')
    .option('--batch-size <n>', 'Images per batch (default: 1)')
    .option('--out <dir>', 'Output folder (default: output/images)')
    .option('--from-png <file>', "Start from an image's WebUI parameters; flags given override them")
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/generate.js')).generateCommand(flags, ctx)));

  cli
    .command('make-checkpoint', 'Write a random-weight base model in the single-file SD layout (for tests and smoke runs)')
    .option('--family <family>', 'sd1, sd2 or sdxl', { default: 'sd1' })
    .option('--out <file>', 'Output .safetensors')
    .option('--full-size', 'Real SD 1.5 shapes (~2 GB in fp16) instead of a tiny model')
    .option('--seed <n>', 'Random seed', { default: 0 })
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/make-checkpoint.js')).makeCheckpointCommand(flags, ctx)));

  cli
    .command('auto-label', 'Draft `file_name,caption` rows in metadata.csv (keeps captions that already exist)')
    .option('--input <dir>', 'Image folder')
    .option('--output <file>', 'CSV to write (default: <input>/metadata.csv)')
    .option('--trigger-word <word>', 'Put first in every caption')
    .option('--prefix <text>', 'Text after the trigger word')
    .option('--suffix <text>', 'Text at the end')
    .option('--overwrite', 'Replace existing captions too')
    .option('--dry-run', 'Print the captions, write nothing')
    .option('--model <dir|id>', 'Captioning model: a BLIP, Florence-2 or WD14 tagger folder, or a hub id (default: the rule-based captioner)')
    .option('--batch-size <n>', 'Images per model batch', { default: 8 })
    .option('--task <prompt>', 'Florence-2 task: <CAPTION>, <DETAILED_CAPTION> or <MORE_DETAILED_CAPTION>', { default: '<DETAILED_CAPTION>' })
    .option('--threshold <p>', 'WD14 tagger: keep general tags above this probability', { default: 0.35 })
    .option('--max-tokens <n>', 'BLIP and Florence-2: longest caption in tokens', { default: 75 })
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/auto-label.js')).autoLabelCommand(flags, ctx)));

  cli
    .command('recommend', 'Recommend rank, epochs, repeats, batch size and learning rate for a config\'s dataset and this device, with reasons (`train` applies them to keys set to `auto`)')
    .option('--config <file>', 'YAML config file')
    .option('--set <key=value>', 'Override any config key (repeatable)')
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/recommend.js')).recommendCommand(flags, ctx)));

  cli
    .command('demo-data', 'Write a small sample style dataset (images + metadata.csv)')
    .option('--out <dir>', 'Output folder', { default: 'data/demo' })
    .option('--style <name>', 'jiangnan, lingnan, northern_snow, desert_town, neon_night, generic, or all (every style in one folder)', { default: 'jiangnan' })
    .option('--count <n>', 'Number of images', { default: 12 })
    .option('--seed <n>', 'Random seed', { default: 0 })
    .option('--size <px>', 'Image size', { default: 64 })
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/demo.js')).demoDataCommand(flags, ctx)));

  cli
    .command('demo', 'Train a jiangnan style LoRA end to end on the shipped demo base model; prints a strength grid and style scores (CPU is fine, no download)')
    .option('--out <dir>', 'Working folder', { default: 'output/demo' })
    .option('--set <key=value>', 'Override a key of the demo config, e.g. `--set mixed_precision=bf16` (repeatable)')
    .action((flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/demo.js')).demoCommand(flags, ctx)));

  cli
    .command('merge <base> [...loras]', 'Bake LoRAs into a single-file checkpoint: `merge base.safetensors style.safetensors:0.8 … --out merged.safetensors`')
    .option('--out <file>', 'The merged checkpoint (same layout and dtypes as the base)')
    .action((base: string, loras: string[], flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/merge.js')).mergeCommand(base, loras, flags, ctx)));

  cli
    .command('combine [...loras]', 'Combine LoRAs into one: `combine a.safetensors:0.6 b.safetensors:0.4 --out ab.safetensors` (exact; --rank cuts by SVD)')
    .option('--out <file>', 'The combined LoRA (kohya format)')
    .option('--rank <r>', 'Cut each module to at most this rank by SVD (default: ranks add up, the sum is exact)')
    .option('--family <family>', 'sd1, sd2 or sdxl: needed only for diffusers/PEFT inputs')
    .option('--layers', 'Print the rank and kept energy of every layer')
    .action((loras: string[], flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/combine.js')).combineCommand(loras, flags, ctx)));

  cli
    .command('resize <lora>', "Lower a LoRA's rank by SVD: `--rank R` and/or `--energy 0.95` (smallest rank keeping that share per layer)")
    .option('--out <file>', 'The resized LoRA (kohya format)')
    .option('--rank <r>', 'At most this rank per layer')
    .option('--energy <e>', "Smallest rank keeping this share (0–1] of each layer's ‖ΔW‖²")
    .option('--family <family>', 'sd1, sd2 or sdxl: needed only for diffusers/PEFT inputs')
    .option('--layers', 'Print the rank and kept energy of every layer')
    .action((lora: string, flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/resize.js')).resizeCommand(lora, flags, ctx)));

  cli
    .command('inspect [file]', 'Show what a LoRA file is: format (kohya, diffusers, LyCORIS), base family, ranks, alphas, layers, training metadata, hashes')
    .option('--layers', 'List every layer with its rank and alpha')
    .option('--json', 'Print the report as JSON')
    .option('--no-hash', 'Skip hashing (which reads the whole file once)')
    .action((file: string | undefined, flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/inspect.js')).inspectCommand(file, flags, ctx)));

  cli
    .command('convert [file]', 'Rewrite a LoRA in kohya/WebUI or diffusers/PEFT key format (weights copied byte for byte)')
    .option('--to <format>', 'kohya or diffusers')
    .option('--out <file>', 'The converted .safetensors (never the input)')
    .option('--family <family>', 'sd1, sd2 or sdxl (default: detected from the layers and metadata)')
    .action((file: string | undefined, flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/convert.js')).convertCommand(file, flags, ctx)));

  const prepare = cli
    .command('prepare [dir]', 'Check pictures and captions (blur, exposure, size, duplicates, caption lint) and write a cropped, resized copy without the flagged ones, plus an HTML and a JSON report')
    .option('--out <dir>', 'Prepared folder (default: <dir>-prepared beside it); replaced on re-runs, the originals are never touched')
    .option('--target <px>', 'Training size: square crops of this size, or buckets of about this many pixels²', { default: DEFAULT_TARGET_PX })
    .option('--crop <position>', 'center, attention (the most salient part) or entropy (the busiest part)', { default: 'center' })
    .option('--buckets', 'Aspect-ratio buckets (64 px steps, up to --max-aspect) instead of square crops; a folder per bucket')
    .option('--strict', 'Fail (exit 1) when any picture is flagged for exclusion; only the report is written')
    .option('--trigger-word <word>', 'Warn about captions without it')
    .option('--metadata <file>', 'Caption CSV (default: <dir>/metadata.csv if present, else .txt files beside the pictures)')
    .option('--caption-extension <ext>', 'Caption file extension', { default: '.txt' })
    .option('--jobs <n>', 'Pictures processed at once (default: twice the number of CPU cores)')
    .option('--json', 'Print the JSON report to stdout instead of the folder path');
  for (const { flag, key, help } of THRESHOLD_FLAGS) prepare.option(`--${flag} <n>`, help, { default: DEFAULT_THRESHOLDS[key] });
  prepare.action((dir: string | undefined, flags: Record<string, unknown>) => run(async (ctx) => (await import('./commands/prepare.js')).prepareCommand(dir, flags, ctx)));

  cli.help();
  cli.version(TOOL_VERSION);
  return cli;
}

export function main(argv: string[]): void {
  const isVerbose = argv.includes('--verbose');
  const ctx: CommandContext = { cwd: process.cwd(), env: process.env, verbose: isVerbose };
  const run = (action: (ctx: CommandContext) => Promise<number> | number) => {
    Promise.resolve()
      .then(() => action(ctx))
      .then((code) => process.exit(code))
      .catch((error: unknown) => process.exit(printError(error, isVerbose)));
  };
  const cli = buildCli(run);
  try {
    cli.parse(argv, { run: false });
    if (!cli.matchedCommand && cli.args.length > 0) {
      process.stderr.write(`error: unknown command \`${cli.args[0]}\`\n\nhint: \`lora-scripts --help\` lists the commands\n`);
      process.exit(EXIT_CODES.usage);
    }
    if (!cli.matchedCommand && !argv.slice(2).some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-v')) {
      cli.outputHelp();
      return;
    }
    void cli.runMatchedCommand();
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n\nhint: \`lora-scripts --help\` lists the commands and flags\n`);
    process.exit(EXIT_CODES.usage);
  }
}

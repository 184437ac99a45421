// The CLI: cac wiring and the single place where errors are printed. Commands load only when they run.
import { cac, type Command } from 'cac';
import { CONFIG_KEYS, describeAllowed, flagName, metaOf } from '../config/index.js';
import { EXIT_CODES, LoraScriptsError } from '../errors.js';
import { TOOL_VERSION } from '../version.js';
import type { CommandContext } from './context.js';
import * as COMMAND_FLAGS from './command-flags.js';
import { cacFlag, flagHelp, type CommandFlags, type FlagTable } from './flag-values.js';

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

/** Declares a command's flag table to cac: name, value placeholder, help with the allowed values and default. */
function withFlags(command: Command, spec: CommandFlags<FlagTable>): Command {
  for (const [name, flag] of Object.entries(spec.flags)) command.option(cacFlag(name, flag), flagHelp(flag));
  return command;
}

function buildCli(run: (action: (ctx: CommandContext) => Promise<number> | number) => void) {
  const cli = cac('lora-scripts');
  cli.option('--verbose', 'Show engine logs and tracebacks');

  const train = withFlags(
    cli.command('train', 'Train a LoRA from a YAML config (every config key is also a flag)'),
    COMMAND_FLAGS.TRAIN_FLAGS,
  );
  for (const key of CONFIG_KEYS) {
    const isBoolean = describeAllowed(key).startsWith('`true`');
    const value = metaOf(key).bareFlagValue ? ' [value]' : ' <value>';
    train.option(`--${flagName(key)}${isBoolean ? '' : value}`, `${metaOf(key).description} (${describeAllowed(key)})`);
  }
  train.action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/train.js')).trainCommand(flags, ctx)),
  );

  withFlags(
    cli.command('setup', "Create or update the engine's Python environment (run automatically on first use)"),
    COMMAND_FLAGS.SETUP_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/setup.js')).setupCommand(flags, ctx)),
  );

  cli
    .command('doctor', 'Print Python, torch, diffusers and peft versions and the device; say what is wrong')
    .action((flags: Record<string, unknown>) =>
      run(async (ctx) => (await import('./commands/setup.js')).doctorCommand(flags, ctx)),
    );

  withFlags(
    cli.command(
      'config [action]',
      'Config keys: `config keys`, `config reference [--write README.md]`, `config schema`',
    ),
    COMMAND_FLAGS.CONFIG_FLAGS,
  ).action((action: string | undefined, flags: Record<string, unknown>) =>
    run(async () => (await import('./commands/config.js')).configCommand(action, flags)),
  );

  withFlags(
    cli.command(
      'generate',
      'Render images with a base model and LoRAs from a WebUI-style prompt; PNGs carry WebUI `parameters`',
    ),
    COMMAND_FLAGS.GENERATE_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/generate.js')).generateCommand(flags, ctx)),
  );

  withFlags(
    cli.command(
      'make-checkpoint',
      'Write a random-weight base model in the single-file SD layout (for tests and smoke runs)',
    ),
    COMMAND_FLAGS.MAKE_CHECKPOINT_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/make-checkpoint.js')).makeCheckpointCommand(flags, ctx)),
  );

  withFlags(
    cli.command('auto-label', 'Draft `file_name,caption` rows in metadata.csv (keeps captions that already exist)'),
    COMMAND_FLAGS.AUTO_LABEL_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/auto-label.js')).autoLabelCommand(flags, ctx)),
  );

  withFlags(
    cli.command(
      'recommend',
      "Recommend rank, epochs, repeats, batch size and learning rate for a config's dataset and this device, with reasons (`train` applies them to keys set to `auto`)",
    ),
    COMMAND_FLAGS.RECOMMEND_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/recommend.js')).recommendCommand(flags, ctx)),
  );

  withFlags(
    cli.command('demo-data', 'Write a small sample style dataset (images + metadata.csv)'),
    COMMAND_FLAGS.DEMO_DATA_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/demo.js')).demoDataCommand(flags, ctx)),
  );

  withFlags(
    cli.command(
      'demo',
      'Train a jiangnan style LoRA end to end on the shipped demo base model; prints a strength grid and style scores (CPU is fine, no download)',
    ),
    COMMAND_FLAGS.DEMO_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/demo.js')).demoCommand(flags, ctx)),
  );

  withFlags(
    cli.command(
      'library <action> [...args]',
      'Style library: `library add FILE --style NAME`, `list`, `show STYLE`, `promote STYLE N`, `retire STYLE N`, `template STYLE TEXT`',
    ),
    COMMAND_FLAGS.LIBRARY_FLAGS,
  ).action((action: string, args: string[], flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/library.js')).libraryCommand(action, args, flags, ctx)),
  );

  withFlags(
    cli.command(
      'region <action> [...args]',
      'Place → style rules: `region set --province NAME --style STYLE [--from T --until T]`, `list`, `resolve --city NAME`, `remove ID`',
    ),
    COMMAND_FLAGS.REGION_FLAGS,
  ).action((action: string, args: string[], flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/library.js')).regionCommand(action, args, flags, ctx)),
  );

  withFlags(
    cli.command(
      'merge <base> [...loras]',
      'Bake LoRAs into a single-file checkpoint: `merge base.safetensors style.safetensors:0.8 … --out merged.safetensors`',
    ),
    COMMAND_FLAGS.MERGE_FLAGS,
  ).action((base: string, loras: string[], flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/merge.js')).mergeCommand(base, loras, flags, ctx)),
  );

  withFlags(
    cli.command(
      'combine [...loras]',
      'Combine LoRAs into one: `combine a.safetensors:0.6 b.safetensors:0.4 --out ab.safetensors` (exact; --rank cuts by SVD)',
    ),
    COMMAND_FLAGS.COMBINE_FLAGS,
  ).action((loras: string[], flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/combine.js')).combineCommand(loras, flags, ctx)),
  );

  withFlags(
    cli.command(
      'resize <lora>',
      "Lower a LoRA's rank by SVD: `--rank R` and/or `--energy 0.95` (smallest rank keeping that share per layer)",
    ),
    COMMAND_FLAGS.RESIZE_FLAGS,
  ).action((lora: string, flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/resize.js')).resizeCommand(lora, flags, ctx)),
  );

  withFlags(
    cli.command(
      'inspect [file]',
      'Show what a LoRA file is: format (kohya, diffusers, LyCORIS), base family, ranks, alphas, layers, training metadata, hashes',
    ),
    COMMAND_FLAGS.INSPECT_FLAGS,
  ).action((file: string | undefined, flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/inspect.js')).inspectCommand(file, flags, ctx)),
  );

  withFlags(
    cli.command(
      'convert [file]',
      'Rewrite a LoRA in kohya/WebUI or diffusers/PEFT key format (weights copied byte for byte)',
    ),
    COMMAND_FLAGS.CONVERT_FLAGS,
  ).action((file: string | undefined, flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/convert.js')).convertCommand(file, flags, ctx)),
  );

  withFlags(
    cli.command(
      'prepare [dir]',
      'Check pictures and captions (blur, exposure, size, duplicates, caption lint) and write a cropped, resized copy without the flagged ones, plus an HTML and a JSON report',
    ),
    COMMAND_FLAGS.PREPARE_FLAGS,
  ).action((dir: string | undefined, flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/prepare.js')).prepareCommand(dir, flags, ctx)),
  );

  withFlags(
    cli.command('covers', "Make covers for a place in its mapped style (the workspace's style library), titled"),
    COMMAND_FLAGS.COVERS_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/covers.js')).coversCommand(flags, ctx)),
  );

  withFlags(
    cli.command('serve', 'Run the studio server: an HTTP API over the jobs in a workspace (the web app comes later)'),
    COMMAND_FLAGS.SERVE_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/serve.js')).serveCommand(flags, ctx)),
  );

  withFlags(
    cli.command('worker', 'Run queued jobs (train, generate, covers, prepare, auto-label) from a studio on Redis'),
    COMMAND_FLAGS.WORKER_FLAGS,
  ).action((flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/worker.js')).workerCommand(flags, ctx)),
  );

  withFlags(
    cli.command(
      'experiment [action] [...args]',
      'A/B experiments of covers: `create ID --arm a:1 --arm b:1`, `list`, `show ID`, `assign ID USER…`, `ingest ID --file events.jsonl`, `import ID --file counts.csv`, `simulate ID --ctr a=0.05 --ctr b=0.06`, `report ID [--csv|--json]`, `plan --baseline-ctr 0.05 --lift 0.23`',
    ),
    COMMAND_FLAGS.EXPERIMENT_FLAGS,
  ).action((action: string | undefined, args: string[], flags: Record<string, unknown>) =>
    run(async (ctx) => (await import('./commands/experiment.js')).experimentCommand(action, args, flags, ctx)),
  );

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
      process.stderr.write(
        `error: unknown command \`${cli.args[0]}\`\n\nhint: \`lora-scripts --help\` lists the commands\n`,
      );
      process.exit(EXIT_CODES.usage);
    }
    if (
      !cli.matchedCommand &&
      !argv.slice(2).some((a) => a === '--help' || a === '-h' || a === '--version' || a === '-v')
    ) {
      cli.outputHelp();
      return;
    }
    void cli.runMatchedCommand();
  } catch (error) {
    process.stderr.write(
      `error: ${(error as Error).message}\n\nhint: \`lora-scripts --help\` lists the commands and flags\n`,
    );
    process.exit(EXIT_CODES.usage);
  }
}

// `lora-scripts library add|list|show|promote|retire|template` and `region set|list|resolve|remove`: the studio's
// style library and place → style rules, on the workspace's store or `--db` (the same data the server serves).
import { resolve } from 'node:path';
import { UsageError } from '../../errors.js';
import {
  openLibrary,
  PLACE_LEVELS,
  type Place,
  type PlaceLevel,
  type RegionMapping,
  type StyleLibrary,
  type StyleVersion,
} from '../../library/index.js';
import { closeDatabases, type DatabaseLocation, databaseLocation, openJobStore } from '../../store/index.js';
import { LIBRARY_FLAGS, REGION_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { type FlagValues, parseFlags } from '../flag-values.js';

type LibraryFlags = FlagValues<typeof LIBRARY_FLAGS.flags>;
type RegionFlags = FlagValues<typeof REGION_FLAGS.flags>;
const print = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

/** The library at `--db` (default: the workspace's SQLite file); the versions' files are in the workspace either way. */
async function withLibrary(
  flags: { workspace: string; db?: string | undefined },
  ctx: CommandContext,
  use: (library: StyleLibrary, database: DatabaseLocation) => Promise<void>,
) {
  const workspace = resolve(ctx.cwd, flags.workspace);
  const database = databaseLocation(flags.db, workspace, ctx.cwd);
  try {
    const library = await openLibrary(database, { workspace });
    try {
      await use(library, database);
    } finally {
      await library.close();
    }
  } finally {
    // a PostgreSQL pool left open would keep the command's process alive
    await closeDatabases();
  }
  return 0;
}

const LIBRARY_ACTIONS = ['add', 'list', 'show', 'promote', 'retire', 'template'] as const;

export async function libraryCommand(
  action: string | undefined,
  args: string[],
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const flags = parseFlags(LIBRARY_FLAGS, given);
  return withLibrary(flags, ctx, async (library, database) => {
    switch (action) {
      case 'add':
        return addVersion(library, args, flags, ctx);
      case 'list':
        return listStyles(library, database, flags);
      case 'show':
        return showStyle(library, database, argument(args, 0, 'STYLE', 'library show'), flags);
      case 'promote':
      case 'retire': {
        const style = argument(args, 0, 'STYLE', `library ${action}`);
        const version = versionArgument(argument(args, 1, 'VERSION', `library ${action}`));
        const changed = await library.changeStatus(style, version, action);
        return flags.json ? print(JSON.stringify(changed)) : print(`${style} v${version}: ${changed.status}`);
      }
      case 'template': {
        const style = argument(args, 0, 'STYLE', 'library template');
        const saved = await library.setPromptTemplate(style, args[1] ?? null);
        return print(
          saved.prompt_template === null ? `${style}: no prompt template` : `${style}: ${saved.prompt_template}`,
        );
      }
      default:
        throw unknownAction('library', action, LIBRARY_ACTIONS);
    }
  });
}

async function addVersion(library: StyleLibrary, args: string[], flags: LibraryFlags, ctx: CommandContext) {
  const file = resolve(ctx.cwd, argument(args, 0, 'FILE', 'library add'));
  if (flags.style === undefined) {
    throw new UsageError('`--style NAME` is required', {
      code: 'usage',
      culprit: 'library add',
      hint: `e.g. \`${LIBRARY_FLAGS.example}\``,
    });
  }
  const { version, isNew } = await library.addVersion({
    style: flags.style,
    file,
    ...(flags.strength === undefined ? {} : { strength: flags.strength }),
    ...(flags.triggerWord.length > 0 ? { trigger_words: flags.triggerWord } : {}),
    ...(flags.notes === undefined ? {} : { notes: flags.notes }),
    ...(flags.baseModel === undefined ? {} : { base_model: flags.baseModel }),
    ...(flags.promptTemplate === undefined ? {} : { prompt_template: flags.promptTemplate }),
    tags: flags.tag,
    sample_grid: flags.sampleGrid,
  });
  if (flags.json) return print(JSON.stringify({ version, is_new: isNew }));
  print(
    `${version.style} v${version.version} (${version.status}${isNew ? '' : ', already in the library'}): ${version.lora_path}`,
  );
  if (isNew) print(`promote it with \`lora-scripts library promote ${version.style} ${version.version}\``);
}

/** Continuations the studio queued that have finished become versions before the library is shown, as there. */
async function reconcile(library: StyleLibrary, database: DatabaseLocation): Promise<void> {
  const jobs = await openJobStore(database);
  try {
    for (const version of await library.reconcileContinuations(jobs)) {
      process.stderr.write(`${version.style} v${version.version}: added from a finished continuation (a draft)\n`);
    }
  } finally {
    await jobs.close();
  }
}

async function listStyles(library: StyleLibrary, database: DatabaseLocation, flags: LibraryFlags) {
  await reconcile(library, database);
  const styles = await library.listStyles();
  if (flags.json) return print(JSON.stringify({ styles }));
  if (styles.length === 0)
    return print('the library is empty; `lora-scripts library add FILE --style NAME` adds a LoRA');
  for (const style of styles) {
    const promoted = style.promoted === null ? 'none promoted' : `v${style.promoted} promoted`;
    print(`${style.name}  ${style.versions} version${style.versions === 1 ? '' : 's'}, ${promoted}`);
  }
}

async function showStyle(library: StyleLibrary, database: DatabaseLocation, name: string, flags: LibraryFlags) {
  await reconcile(library, database);
  const style = await library.getStyle(name);
  if (flags.json) return print(JSON.stringify(style));
  print(`${style.name}${style.prompt_template === null ? '' : `  template: ${style.prompt_template}`}`);
  for (const version of style.versions) print(versionLine(version));
}

function versionLine(v: StyleVersion): string {
  const facts = [
    v.status,
    `strength ${v.strength}`,
    v.parent_version === null ? null : `from v${v.parent_version}`,
    v.steps === null ? null : `${v.steps} steps`,
    v.base_model === null ? null : `base ${v.base_model}`,
    v.trigger_words.length > 0 ? `trigger ${v.trigger_words.join(', ')}` : null,
    v.tags.length > 0 ? `tags ${v.tags.join(', ')}` : null,
  ].filter((fact) => fact !== null);
  return `  v${v.version}  ${v.sha256.slice(0, 12)}  ${facts.join(' · ')}${v.notes ? `  — ${v.notes}` : ''}`;
}

const REGION_ACTIONS = ['set', 'list', 'resolve', 'remove'] as const;

export async function regionCommand(
  action: string | undefined,
  args: string[],
  given: Record<string, unknown>,
  ctx: CommandContext,
): Promise<number> {
  const flags = parseFlags(REGION_FLAGS, given);
  return withLibrary(flags, ctx, async (library) => {
    switch (action) {
      case 'set': {
        const { level, place } = ruleTarget(flags);
        const rule = await library.setRegion({
          level,
          place,
          style: requiredStyle(flags),
          version: flags.version ?? null,
          from: flags.from ?? null,
          until: flags.until ?? null,
        });
        return flags.json ? print(JSON.stringify(rule)) : print(ruleLine(rule));
      }
      case 'list': {
        const regions = await library.listRegions();
        if (flags.json) return print(JSON.stringify({ regions }));
        if (regions.length === 0)
          return print('no region rules; `lora-scripts region set --province NAME --style STYLE` adds one');
        for (const rule of regions) print(ruleLine(rule));
        return;
      }
      case 'resolve': {
        const at = flags.at === undefined ? new Date() : timeFlag(flags.at);
        const place: Place = { city: flags.city, province: flags.province, region: flags.region };
        const resolved = await library.resolvePlace(place, at);
        if (flags.json) return print(JSON.stringify({ at: at.toISOString(), resolved }));
        return print(
          resolved === null
            ? 'no rule applies (add a default with `lora-scripts region set --default --style STYLE`)'
            : `${resolved.style} v${resolved.version} at strength ${resolved.strength} (matched by ${resolved.matched}): ${resolved.lora_path}`,
        );
      }
      case 'remove': {
        const id = versionArgument(argument(args, 0, 'ID', 'region remove'));
        await library.removeRegion(id);
        return print(`removed rule ${id}`);
      }
      default:
        throw unknownAction('region', action, REGION_ACTIONS);
    }
  });
}

/** Exactly one of --city, --province, --region, --default. */
function ruleTarget(flags: RegionFlags): { level: PlaceLevel; place: string | null } {
  const given = PLACE_LEVELS.filter((level) => (level === 'default' ? flags.default : flags[level] !== undefined));
  if (given.length !== 1) {
    throw new UsageError('give exactly one of `--city`, `--province`, `--region`, `--default`', {
      code: 'usage',
      culprit: 'region set',
      hint: `e.g. \`${REGION_FLAGS.example}\``,
    });
  }
  const level = given[0]!;
  return { level, place: level === 'default' ? null : (flags[level] ?? null) };
}

function requiredStyle(flags: RegionFlags): string {
  if (flags.style !== undefined) return flags.style;
  throw new UsageError('`--style NAME` is required', {
    code: 'usage',
    culprit: 'region set',
    hint: `e.g. \`${REGION_FLAGS.example}\``,
  });
}

function ruleLine(rule: RegionMapping): string {
  const where = rule.level === 'default' ? 'default' : `${rule.level} ${rule.place}`;
  const window =
    rule.from === null && rule.until === null ? '' : `  from ${rule.from ?? '…'} until ${rule.until ?? '…'}`;
  return `#${rule.id}  ${where} → ${rule.style}${rule.version === null ? '' : ` v${rule.version}`}${window}`;
}

function timeFlag(value: string): Date {
  const time = Date.parse(value);
  if (Number.isNaN(time)) {
    throw new UsageError(`\`${value}\` is not a date or time`, {
      code: 'usage',
      culprit: '--at',
      hint: 'write `2026-07-01` or `2026-07-01T08:00:00+08:00`',
    });
  }
  return new Date(time);
}

function argument(args: string[], index: number, name: string, command: string): string {
  const value = args[index];
  if (value === undefined || value === '') {
    throw new UsageError(`\`${name}\` is missing`, {
      code: 'usage',
      culprit: command,
      hint: `\`lora-scripts ${command} --help\` shows the usage`,
    });
  }
  return value;
}

function versionArgument(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1) {
    throw new UsageError(`\`${value}\` is not a number`, {
      code: 'usage',
      culprit: value,
      hint: 'give the number `library show STYLE` (or `region list`) prints',
    });
  }
  return Number(value);
}

function unknownAction(command: string, action: string | undefined, actions: readonly string[]): UsageError {
  return new UsageError(action === undefined ? 'no action given' : `\`${action}\` is not an action`, {
    code: 'usage',
    culprit: command,
    hint: `use one of ${actions.map((a) => `\`${command} ${a}\``).join(', ')}`,
  });
}

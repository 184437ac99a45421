// `lora-scripts covers --province 浙江 --title "江南水乡 · 雨中游" [--n 2] [--seed N] [--size WxH]`: covers for a place
// in the style the workspace's library (or the one at `--db`) maps it to, made by a render worker of its own; prints the files.
import { mkdirSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type CoverRequest, coverRequestSchema, createCoverService } from '../../covers/index.js';
import { UsageError } from '../../errors.js';
import { openLibrary, type StyleLibrary } from '../../library/index.js';
import { startRenderWorker } from '../../render-worker/index.js';
import { closeDatabases, databaseLocation } from '../../store/index.js';
import { COVERS_FLAGS } from '../command-flags.js';
import type { CommandContext } from '../context.js';
import { type FlagValues, flagOf, parseFlags } from '../flag-values.js';

export async function coversCommand(given: Record<string, unknown>, ctx: CommandContext): Promise<number> {
  const flags = parseFlags(COVERS_FLAGS, given);
  const request = coverRequestOf(flags);
  const workspaceDir = resolve(ctx.cwd, flags.workspace);
  mkdirSync(workspaceDir, { recursive: true });
  const workspace = realpathSync(workspaceDir);
  const database = databaseLocation(flags.db, workspace, ctx.cwd);
  try {
    const library = await openLibrary(database, { workspace });
    try {
      return await makeCovers(request, flags, workspace, library, ctx);
    } finally {
      await library.close();
    }
  } finally {
    // a PostgreSQL pool left open would keep the command's process alive
    await closeDatabases();
  }
}

async function makeCovers(
  request: CoverRequest,
  flags: FlagValues<typeof COVERS_FLAGS.flags>,
  workspace: string,
  library: StyleLibrary,
  ctx: CommandContext,
): Promise<number> {
  const worker = startRenderWorker({
    env: ctx.env,
    ...(ctx.verbose ? { onLog: (chunk) => process.stderr.write(chunk) } : {}),
  });
  try {
    const service = createCoverService({
      workspace,
      resolvePlace: (place, at) => library.resolvePlace(place, at),
      renderer: worker,
      defaultBaseModel: flags.baseModel === undefined ? null : resolve(ctx.cwd, flags.baseModel),
    });
    const result = await service.makeCovers(request);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    } else {
      const from = result.cached ? 'read from the cache' : 'rendered';
      process.stderr.write(
        `style \`${result.style}\` version ${result.version} (by ${result.matched}), ${from}\nprompt: ${result.prompt}\n`,
      );
      for (const cover of result.covers) process.stdout.write(`${join(workspace, cover.path)}\n`);
    }
    return 0;
  } finally {
    await worker.close();
  }
}

/** The flags as the API's request body, so both take exactly the same inputs; a bad one is named as its flag. */
function coverRequestOf(flags: FlagValues<typeof COVERS_FLAGS.flags>) {
  const parsed = coverRequestSchema.safeParse({
    city: flags.city,
    province: flags.province,
    region: flags.region,
    title: flags.title,
    prompt: flags.prompt,
    n: flags.n,
    seed: flags.seed,
    size: flags.size,
    title_on_image: flags.titleOnImage,
  });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = String(issue.path[0] ?? 'title');
  const flag = flagOf(field.replace(/_(\w)/g, (_, c: string) => c.toUpperCase()));
  throw new UsageError(`${flag}: ${issue.message}`, {
    code: 'usage',
    culprit: 'covers',
    hint: COVERS_FLAGS.example ?? '`lora-scripts covers --help` lists its flags',
  });
}

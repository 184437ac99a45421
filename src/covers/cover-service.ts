// The cover service: a request → its place's style (library) → a render plan → the worker, through the batcher →
// titles set → files under `covers/<key>/` in the workspace. That folder is the cache: the same request again (same
// style version, same everything) reads it instead of rendering.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { z } from 'zod';
import { LoraScriptsError } from '../errors.js';
import { writeFileAtomic } from '../fs/atomic-write.js';
import type { Place, PlaceLevel, ResolvedStyle } from '../library/index.js';
import { drawTitle } from './draw-title.js';
import { loadTitleFonts } from './font/title-font.js';
import { type CoverPlan, planCovers } from './plan.js';
import { type CoverRenderer, createRenderBatcher } from './render-batcher.js';
import { type CoverRequest, placeOf, sizeOf } from './request.js';
import { layoutTitle } from './title-layout.js';

/** The workspace folder covers are written to, one sub-folder per cache key. */
export const COVERS_FOLDER = 'covers';
const MANIFEST_FILE = 'cover.json';
/** 96 bits of the key name the folder: short paths, and no two requests of one workspace will share one. */
const FOLDER_KEY_LENGTH = 24;

export interface Cover {
  /** Workspace-relative, `/`-separated: `covers/<key>/<i>.png`. */
  path: string;
  seed: number;
  /** WebUI's `parameters` text, also in the PNG. */
  infotext: string;
}

export interface CoverResult {
  /** The cache key (hex sha256 of everything that decides the pictures). */
  key: string;
  style: string;
  version: number;
  /** The LoRA file's sha256: which bytes made the covers. */
  sha256: string;
  /** Which level of the place found the style. */
  matched: PlaceLevel;
  /** The prompt the style's template made. */
  prompt: string;
  title: string | null;
  /** true: read from the cache (or from an identical request already rendering), no render of its own. */
  cached: boolean;
  covers: Cover[];
}

export interface CoverServiceDeps {
  /** Absolute; covers are written to its `covers/` folder, and the library's paths are relative to it. */
  workspace: string;
  /** The style library's place lookup (src/library `resolvePlace`). */
  resolvePlace: (place: Place, at: Date) => Promise<ResolvedStyle | null>;
  /** The generation worker (src/render-worker), or a fake in tests. */
  renderer: CoverRenderer;
  /**
   * Renders sent to `renderer` at once (default 1: one engine renders one at a time). A renderer that spreads them
   * over a pool (the render queue's workers) gets more, so covers for several places render side by side.
   */
  rendersInFlight?: number;
  /** For a style version whose base model the library does not know. */
  defaultBaseModel?: string | null;
  now?: () => Date;
}

export interface CoverService {
  makeCovers(request: CoverRequest, signal?: AbortSignal): Promise<CoverResult>;
}

export function createCoverService(deps: CoverServiceDeps): CoverService {
  const batcher = createRenderBatcher(deps.renderer, { inFlight: deps.rendersInFlight ?? 1 });
  const now = deps.now ?? (() => new Date());
  // Identical requests at the same time share one render: the second waits for the first's files.
  const inFlight = new Map<string, Promise<CoverResult>>();

  return {
    async makeCovers(request, signal) {
      const place = placeOf(request);
      const style = await deps.resolvePlace(place, now());
      if (style === null) throw placeNotMapped(place);
      const plan = planCovers(request, style, renderPaths(deps, style));
      if (plan.title !== null) layoutTitle(plan.title, await loadTitleFonts(), sizeOf(request)); // refuses before rendering
      const dir = `${COVERS_FOLDER}/${plan.key.slice(0, FOLDER_KEY_LENGTH)}`;
      const cached = readCache(deps.workspace, dir, plan.key);
      if (cached !== null) return { ...cached, cached: true };
      const running = inFlight.get(plan.key);
      if (running !== undefined) {
        // Its caller may cancel it (a closed connection): then this request renders for itself below.
        const shared = await running.catch(() => null);
        if (shared !== null) return { ...shared, cached: true };
      }
      const making = renderCovers({ workspace: deps.workspace, dir, plan, style, batcher, signal });
      inFlight.set(plan.key, making);
      try {
        return await making;
      } finally {
        inFlight.delete(plan.key);
      }
    },
  };
}

async function renderCovers(options: {
  workspace: string;
  dir: string;
  plan: CoverPlan;
  style: ResolvedStyle;
  batcher: ReturnType<typeof createRenderBatcher>;
  signal: AbortSignal | undefined;
}): Promise<CoverResult> {
  const { workspace, dir, plan, style } = options;
  const images = await options.batcher.render(plan.render, options.signal);
  mkdirSync(join(workspace, dir), { recursive: true });
  const covers: Cover[] = [];
  for (const [i, image] of images.entries()) {
    const png = plan.title === null ? image.png : await drawTitle(image.png, plan.title);
    const path = `${dir}/${i}.png`;
    writeFileAtomic(join(workspace, path), png);
    covers.push({ path, seed: image.seed, infotext: image.infotext });
  }
  const result: CoverResult = {
    key: plan.key,
    style: style.style,
    version: style.version,
    sha256: style.sha256,
    matched: style.matched,
    prompt: plan.prompt,
    title: plan.title,
    cached: false,
    covers,
  };
  // Written last: a folder without its manifest (a crash mid-way) is not a cache entry, and is rendered again.
  writeFileAtomic(join(workspace, dir, MANIFEST_FILE), `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

const manifestSchema = z.object({
  key: z.string(),
  style: z.string(),
  version: z.number(),
  sha256: z.string(),
  matched: z.enum(['city', 'province', 'region', 'default']),
  prompt: z.string(),
  title: z.string().nullable(),
  cached: z.boolean(),
  covers: z.array(z.object({ path: z.string(), seed: z.number(), infotext: z.string() })),
});

/** The cached result, when the folder has a manifest of this very key and every picture it lists. */
function readCache(workspace: string, dir: string, key: string): CoverResult | null {
  const manifestPath = join(workspace, dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) return null;
  let parsed: CoverResult;
  try {
    parsed = manifestSchema.parse(JSON.parse(readFileSync(manifestPath, 'utf8')));
  } catch {
    return null; // unreadable: render again, which rewrites it
  }
  if (parsed.key !== key || !parsed.covers.every((c) => existsSync(join(workspace, c.path)))) return null;
  return parsed;
}

/** The library's workspace-relative paths as the worker opens them; a base model that is no file is a hub id. */
function renderPaths(deps: CoverServiceDeps, style: ResolvedStyle) {
  const baseModelId = style.base_model ?? deps.defaultBaseModel ?? null;
  if (baseModelId === null) {
    throw new LoraScriptsError(`style \`${style.style}\` version ${style.version} has no base model on record`, {
      code: 'cover_base_model_unknown',
      culprit: style.style,
      hint: `set the version's base model in the library (\`lora-scripts library\`), or pass --base-model to \`covers\``,
    });
  }
  const inWorkspace = isAbsolute(baseModelId) ? baseModelId : join(deps.workspace, baseModelId);
  return {
    loraPath: join(deps.workspace, style.lora_path),
    baseModel: existsSync(inWorkspace) ? inWorkspace : baseModelId,
    baseModelId,
  };
}

/** Not bad input (the place is well formed): the library lacks a rule, so the CLI exits 1 and the API answers 404. */
function placeNotMapped(place: Place): LoraScriptsError {
  const levels = (['city', 'province', 'region'] as const).filter((level) => place[level] !== undefined);
  const named = levels.map((level) => `${level} \`${place[level]}\``).join(', ');
  const first = levels[0] ?? 'region';
  return new LoraScriptsError(`no style is mapped to ${named}, and there is no default mapping`, {
    code: 'place_not_mapped',
    culprit: 'place',
    hint:
      `add a region mapping: \`lora-scripts region set --${first} ${place[first] ?? 'NAME'} --style STYLE\` ` +
      '(or `--default`), `POST /api/library/regions`, or the library page',
  });
}

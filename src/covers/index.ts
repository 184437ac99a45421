// Public API of the cover service: covers for a place in its mapped style, with the title set on the picture.
/**
 * `const service = createCoverService({workspace, resolvePlace: (p, at) => library.resolvePlace(p, at), renderer:
 * worker})`; `await service.makeCovers(coverRequestSchema.parse({city: '杭州', title: '江南水乡 · 雨中游', n: 2}))`
 * → `{style, version, cached, covers: [{path: 'covers/<key>/0.png', seed, infotext}, …]}`.
 */
export {
  COVERS_FOLDER,
  type Cover,
  type CoverResult,
  type CoverService,
  type CoverServiceDeps,
  createCoverService,
} from './cover-service.js';
export {
  type CoverRequest,
  type CoverRequestInput,
  coverRequestSchema,
  coverSizeSchema,
  DEFAULT_COVER_SIZE,
  MAX_COVERS_PER_REQUEST,
} from './request.js';
/** `planCovers(request, style, paths)` → the worker's request, the filled prompt and the cache key (pure). */
export { type CoverPlan, DEFAULT_PROMPT_TEMPLATE, planCovers, type PlanPaths } from './plan.js';
/** Renders of one style go to the worker together; identical settings become one render of all their seeds. */
export { type CoverRenderer, createRenderBatcher, type RenderBatcher } from './render-batcher.js';
/** `await drawTitle(png, '江南水乡 · 雨中游')`: the title on a band across the bottom, in the shipped CJK font. */
export { drawTitle } from './draw-title.js';
export { layoutTitle, MAX_TITLE_LINES, type TitleLayout, titleTokens } from './title-layout.js';
export { titleSvg } from './title-svg.js';
export { loadTitleFonts, TITLE_FONT_DIR, TITLE_FONT_FILES } from './font/title-font.js';
export { type FontStack, fontStack } from './font/font-stack.js';
export { parseTrueTypeFont, type TrueTypeFont } from './font/truetype.js';

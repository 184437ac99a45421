// Public API of the style library: styles with versions (draft → promoted → retired), place → style rules with
// time windows, prompt templates, and continued trainings that become new versions. Other folders import from here.
/**
 * Opens the library on the studio's SQLite file (migrated, its own connection).
 * @example
 * const library = openSqliteLibrary('workspace/.lora-scripts/studio.db');
 * await library.addVersion({ style: 'jiangnan_style', file: '/abs/output/jiangnan/jiangnan.safetensors', strength: 0.7 });
 * await library.changeStatus('jiangnan_style', 1, 'promote');
 * await library.setRegion({ level: 'province', place: 'Zhejiang', style: 'jiangnan_style' });
 * await library.resolvePlace({ city: 'Hangzhou', province: 'Zhejiang' }, new Date()); // { style: 'jiangnan_style', matched: 'province', … }
 * await library.resolveLoraName('jiangnan_style'); // { path: 'library/<sha256>.safetensors', strength: 0.7 }
 */
export { type OpenLibraryOptions, openLibrary, openSqliteLibrary } from './open-library.js';
export {
  type AddVersionInput,
  checkStyleName,
  DEFAULT_STRENGTH,
  type JobLookup,
  LIBRARY_FOLDER,
  type ResolvedStyle,
  type StyleDetail,
  type StyleLibrary,
  type StyleSummary,
  type VersionEdit,
} from './style-library.js';
/** Row storage behind the library; each backend passes library-store.test.ts's suite. */
export { openSqliteLibraryStore } from './sqlite-store.js';
export { PostgresLibraryStore, postgresLibraryStore } from './postgres-store.js';
export {
  type Continuation,
  type LibraryStore,
  PLACE_LEVELS,
  type Place,
  type PlaceLevel,
  type RegionMapping,
  type Style,
  type StyleVersion,
  VERSION_STATUSES,
  type VersionStatus,
} from './types.js';
export { type LifecycleAction, planStatusChange, promotedVersion } from './lifecycle.js';
/** `regionCandidates(rules, {city: 'Suzhou'}, now)`: the rules that apply, best first (pure). */
export { checkRegionRule, isActiveAt, placeKey, type RegionRuleInput, regionCandidates } from './regions.js';
/**
 * `fillPromptTemplate('{title}, water town, <lora:{style}:{strength}>', {title: '雨中江南', prompt: '', style: 'jiangnan_style', strength: '0.7', trigger_words: ''})`
 * → `'雨中江南, water town, <lora:jiangnan_style:0.7>'`.
 */
export {
  checkPromptTemplate,
  fillPromptTemplate,
  PROMPT_PLACEHOLDERS,
  type PromptPlaceholder,
  type PromptValues,
} from './prompt-template.js';
export { LibraryError } from './library-error.js';
/** The train config that continues a version on new pictures (`init_lora` = its file). */
export { continuationTrainConfig, type ContinueInput } from './continuation.js';
/** generate's `libraryLoras`: `<lora:NAME>` → the promoted version's absolute file, or null. */
export { libraryLoraLookup, WORKSPACE_STORE_FILE } from './lora-lookup.js';

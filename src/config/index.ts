// Public API of the config stage.
/** Loads, validates and resolves a config: `loadConfig({file: 'configs/x.yaml', overrides, cwd: process.cwd()})`. */
export { isFile, loadConfig, readConfig, type LoadConfigOptions } from './load.js';
/** Validation without the file system: `validateConfig({file, text, overrides})`. */
export { validateConfig, suggestKey, type ConfigOverride, type ConfigSource } from './validate.js';
export { resolveConfig, autoKeysOf, looksLikeHubId, RESUME_KEYWORDS, type ResolvedConfig } from './resolve.js';
/** The single schema and its key list: `CONFIG_KEYS.includes('lora_rank')`. */
export { configSchema, CONFIG_KEYS, metaOf, type ParsedConfig, type ConfigInput, type KeyMeta } from './schema.js';
/** Lists derived from the keys' metadata: `AUTO_KEYS.includes('lora_rank')`, `RESUME_FREE_KEYS.includes('epochs')`. */
export { AUTO_KEYS, LIST_KEYS, RESUME_FREE_KEYS, type AutoKey, type AutoValues } from './schema.js';
/** `target_modules` presets: `TARGET_PRESETS.includes('attention+ff')`. */
export { TARGET_PRESETS, type TargetPreset } from './schema.js';
/** Derived views: `flagName('lora_rank') === 'lora-rank'`, `renderConfigReference()` for the README. */
export {
  configJsonSchema,
  describeAllowed,
  describeValues,
  flagName,
  keyNotes,
  renderConfigReference,
  spliceConfigReference,
} from './reference.js';

// Public API of the config stage.
/** Loads, validates and resolves a config: `loadConfig({file: 'configs/x.yaml', overrides, cwd: process.cwd()})`. */
export { loadConfig, readConfig, type LoadConfigOptions } from './load.js';
/** Validation without the file system: `validateConfig({file, text, overrides})`. */
export { validateConfig, suggestKey, type ConfigOverride, type ConfigSource } from './validate.js';
export { resolveConfig, autoKeysOf, type ResolvedConfig } from './resolve.js';
/** The single schema and its key list: `CONFIG_KEYS.includes('lora_rank')`. */
export { configSchema, CONFIG_KEYS, metaOf, type ParsedConfig, type ConfigInput, type KeyMeta } from './schema.js';
/** Keys that accept `auto`: `AUTO_KEYS.includes('lora_rank')`. */
export { AUTO_KEYS, type AutoKey, type AutoValues } from './schema.js';
/** Derived views: `flagName('lora_rank') === 'lora-rank'`, `renderConfigReference()` for the README. */
export { configJsonSchema, describeAllowed, flagName, renderConfigReference, spliceConfigReference } from './reference.js';

// Where the engine's files live: the package's own `engine/` folder and the virtualenv in the user's cache.
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root (this file is at dist/engine/paths.js or src/engine/paths.ts). */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ENGINE_SOURCE_DIR = join(PACKAGE_ROOT, 'engine');
/** The CLIP tokenizer files shipped with the engine; the TS caption checks count tokens with them too. */
export const CLIP_TOKENIZER_DIR = join(ENGINE_SOURCE_DIR, 'lora_scripts_engine', 'model_configs', 'tokenizer-clip');

export type Env = Record<string, string | undefined>;

/**
 * The engine virtualenv: `LORA_SCRIPTS_ENGINE_VENV` if set, else `<cache>/lora-scripts/engine-venv`
 * where `<cache>` is `LORA_SCRIPTS_CACHE_DIR`, `XDG_CACHE_HOME` or `~/.cache`.
 */
export function engineVenvDir(env: Env): string {
  if (env.LORA_SCRIPTS_ENGINE_VENV) return resolve(env.LORA_SCRIPTS_ENGINE_VENV);
  const cache = env.LORA_SCRIPTS_CACHE_DIR ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lora-scripts');
  return join(resolve(cache), 'engine-venv');
}

export function venvPython(venv: string): string {
  return process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

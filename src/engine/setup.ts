// Creates and updates the engine's virtualenv from the pinned requirements; a no-op when it is up to date.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EngineError } from '../errors.js';
import { ENGINE_SOURCE_DIR, engineVenvDir, venvPython, type Env } from './paths.js';

export type TorchBuild = 'cpu' | 'cuda';

export interface SetupOptions {
  env: Env;
  /** Also install the engine's test dependencies (pytest). */
  withTests?: boolean;
  /** Reinstall even when the stamp says the venv is current. */
  force?: boolean;
  log: (line: string) => void;
}

export interface SetupResult {
  venv: string;
  python: string;
  torchBuild: TorchBuild;
  reason: string;
  changed: boolean;
}

const MIN_PYTHON: [number, number] = [3, 10];

/** CUDA when an NVIDIA driver answers, else CPU; the reason is printed. */
export function detectTorchBuild(env: Env): { build: TorchBuild; reason: string } {
  const forced = env.LORA_SCRIPTS_TORCH_BUILD;
  if (forced === 'cpu' || forced === 'cuda') return { build: forced, reason: `LORA_SCRIPTS_TORCH_BUILD=${forced}` };
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  if (smi.status === 0 && /GPU \d/.test(smi.stdout))
    return { build: 'cuda', reason: `NVIDIA GPU found (${smi.stdout.split('\n')[0]})` };
  return { build: 'cpu', reason: 'no NVIDIA GPU found (nvidia-smi)' };
}

function requirementFiles(build: TorchBuild, withTests: boolean): string[] {
  const files = ['requirements.txt', `constraints-${build}.txt`];
  if (withTests) files.push('requirements-test.txt');
  return files.map((f) => join(ENGINE_SOURCE_DIR, f));
}

function stampOf(build: TorchBuild, withTests: boolean, indexUrl: string | undefined): string {
  const hash = createHash('sha256');
  for (const file of requirementFiles(build, withTests)) hash.update(readFileSync(file));
  hash.update(`${build}|${withTests}|${indexUrl ?? ''}`);
  return hash.digest('hex');
}

function findSystemPython(env: Env): string {
  const candidates = env.LORA_SCRIPTS_PYTHON ? [env.LORA_SCRIPTS_PYTHON] : ['python3', 'python'];
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], {
      encoding: 'utf8',
    });
    if (probe.status !== 0) continue;
    const [major, minor] = probe.stdout.trim().split('.').map(Number) as [number, number];
    if (major > MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor >= MIN_PYTHON[1])) return candidate;
    throw new EngineError(
      `Python ${probe.stdout.trim()} is too old; the engine needs ${MIN_PYTHON.join('.')} or newer`,
      {
        code: 'python_too_old',
        culprit: candidate,
        hint: 'install a newer Python and point LORA_SCRIPTS_PYTHON at it',
      },
    );
  }
  throw new EngineError('no Python found', {
    code: 'python_missing',
    culprit: candidates.join(', '),
    hint: `install Python ${MIN_PYTHON.join('.')}+ (with venv), or set LORA_SCRIPTS_PYTHON`,
  });
}

function run(command: string, args: string[], what: string, log: (line: string) => void): void {
  log(`$ ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: ['ignore', 2, 2] });
  if (result.status !== 0) {
    throw new EngineError(`${what} failed (exit ${result.status ?? result.signal})`, {
      code: 'setup_failed',
      culprit: 'lora-scripts setup',
      hint: 'read the pip output above; re-run `lora-scripts setup --force` once the cause is fixed',
    });
  }
}

export function isEngineReady(env: Env, withTests = false): boolean {
  const venv = engineVenvDir(env);
  const stampFile = join(venv, 'lora-scripts-stamp.json');
  if (!existsSync(stampFile)) return false;
  const stamp = JSON.parse(readFileSync(stampFile, 'utf8')) as {
    hash?: string;
    build?: TorchBuild;
    withTests?: boolean;
  };
  if (!stamp.build) return false;
  if (withTests && !stamp.withTests) return false;
  return stamp.hash === stampOf(stamp.build, stamp.withTests ?? false, env.LORA_SCRIPTS_TORCH_INDEX_URL);
}

export function setupEngine(options: SetupOptions): SetupResult {
  const venv = engineVenvDir(options.env);
  const python = venvPython(venv);
  const { build, reason } = detectTorchBuild(options.env);
  const withTests = options.withTests ?? false;
  const indexUrl = options.env.LORA_SCRIPTS_TORCH_INDEX_URL;
  const hash = stampOf(build, withTests, indexUrl);
  const stampFile = join(venv, 'lora-scripts-stamp.json');
  if (!options.force && existsSync(stampFile) && isEngineReady(options.env, withTests)) {
    return { venv, python, torchBuild: build, reason, changed: false };
  }
  options.log(`engine setup: torch ${build} build (${reason}), virtualenv ${venv}`);
  if (!existsSync(python))
    run(findSystemPython(options.env), ['-m', 'venv', venv], 'creating the virtualenv', options.log);
  const [requirements, constraints, ...extra] = requirementFiles(build, withTests);
  const pipArgs = ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', requirements!, '-c', constraints!];
  for (const file of extra) pipArgs.push('-r', file);
  if (indexUrl) pipArgs.push('--extra-index-url', indexUrl);
  run(python, pipArgs, 'installing the engine requirements', options.log);
  // The stamp is written last (atomically): an interrupted setup is simply redone next time.
  writeFileSync(`${stampFile}.tmp`, JSON.stringify({ hash, build, withTests }, null, 2));
  renameSync(`${stampFile}.tmp`, stampFile);
  return { venv, python, torchBuild: build, reason, changed: true };
}

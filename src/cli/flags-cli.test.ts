// Flag errors through the built CLI: one line naming the flag, exit 2, and nothing started or written.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../engine/paths.js';

function cli(args: string[], cacheDir: string) {
  const env = { ...process.env, CI: '1', LORA_SCRIPTS_CACHE_DIR: cacheDir };
  const result = spawnSync('node', [join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs'), ...args], { encoding: 'utf8', env });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('command flags through the CLI', () => {
  it('stops `make-checkpoint --seed abc` before the engine is set up or started', () => {
    // An empty cache: an engine start would first install a virtualenv into it.
    const cache = mkdtempSync(join(tmpdir(), 'flags-cache-'));
    const out = join(mkdtempSync(join(tmpdir(), 'flags-out-')), 'm.safetensors');
    const result = cli(['make-checkpoint', '--seed', 'abc', '--out', out], cache);
    expect([result.code, result.stdout]).toEqual([2, '']);
    expect(result.stderr).toBe(
      'error: --seed: must be an integer from 0 to 4294967295, got `"abc"`\n\nhint: `lora-scripts make-checkpoint --help` lists its flags and what they accept\n',
    );
    expect([readdirSync(cache), existsSync(out)]).toEqual([[], false]);
  });

  it('checks generate, resize and demo-data flags the same way', () => {
    const cache = mkdtempSync(join(tmpdir(), 'flags-cache-'));
    const firstLine = (args: string[]) => cli(args, cache).stderr.split('\n')[0];
    expect(firstLine(['generate', '--prompt', 'a', '--width', '500'])).toBe(
      'error: --width: must be an integer from 64 to 4096, a multiple of 8, got `500`',
    );
    expect(firstLine(['resize', 'x.safetensors', '--out', 'y.safetensors', '--energy', '1.5'])).toBe(
      'error: --energy: must be a number > 0 and ≤ 1, got `1.5`',
    );
    expect(firstLine(['demo-data', '--count', 'many'])).toBe(
      'error: --count: must be an integer from 1 to 100000, got `"many"`',
    );
    expect(readdirSync(cache)).toEqual([]);
  });

  it('shows each flag with what it accepts and its default in --help', () => {
    const help = cli(['make-checkpoint', '--help'], mkdtempSync(join(tmpdir(), 'flags-cache-'))).stdout;
    expect(help).toMatch(/--seed <n> +Random seed \(an integer from 0 to 4294967295; default: 0\)/);
    expect(help).toMatch(
      /--family <family> +Model family \(.*\) \(one of `sd1`, `sd2`, `sdxl`, `flux-dev`, `flux-schnell`; default: sd1\)/,
    );
  });
});

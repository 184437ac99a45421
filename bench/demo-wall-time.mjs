// Times the README's first command from a fresh clone: `npm ci && npm run demo`, CPU only. Prints JSON.
// Usage: node bench/demo-wall-time.mjs [--fresh-engine]   (--fresh-engine also times the engine's virtualenv setup)
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const repo = resolve(new URL('..', import.meta.url).pathname);
const work = mkdtempSync(join(tmpdir(), 'lora-scripts-demo-bench-'));
const clone = join(work, 'lora-scripts');
const env = { ...process.env };
if (process.argv.includes('--fresh-engine')) env.LORA_SCRIPTS_CACHE_DIR = join(work, 'cache');

function timed(label, command, args, cwd) {
  const start = performance.now();
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const seconds = (performance.now() - start) / 1000;
  if (result.status !== 0) throw new Error(`${label} failed (exit ${result.status})`);
  return { seconds: Math.round(seconds * 10) / 10, stdout: result.stdout };
}

const cloneStep = timed('git clone', 'git', ['clone', '--quiet', repo, clone], work);
const install = timed('npm ci', 'npm', ['ci', '--no-audit', '--no-fund'], clone);
const demo = timed('npm run demo', 'npm', ['run', '--silent', 'demo'], clone);
const scores = Object.fromEntries(
  [...demo.stdout.matchAll(/^strength (\S+)\s+style score (\S+)$/gm)].map((m) => [m[1], Number(m[2])]),
);
console.log(
  JSON.stringify(
    {
      fresh_engine: Boolean(env.LORA_SCRIPTS_CACHE_DIR),
      clone_s: cloneStep.seconds,
      npm_ci_s: install.seconds,
      demo_s: demo.seconds,
      total_s: Math.round((cloneStep.seconds + install.seconds + demo.seconds) * 10) / 10,
      style_scores: scores,
    },
    null,
    2,
  ),
);

// Side-by-side training benchmark: our trainer vs diffusers' examples/text_to_image/train_text_to_image_lora.py
// (and kohya's train_network.py when bench/train_speed/kohya.py can run it), same model, data, settings and torch.
// Makes sure the CLI is built and the engine venv is set up, then runs the Python orchestrator (bench/train_speed/)
// with the engine venv's python; every argument is passed on to it (see `--help`).
// Usage: node bench/train-speed.mjs [--diffusers-src DIR] [--kohya-src DIR] [--diffusers-bf16] [--models demo,sd15]
//          [--images 40] [--epochs 5 | --steps 12] [--resolution 256] [--batch-size 1] [--rank 16] [--write bench/RESULTS.md]
//          [--precisions fp32,bf16] [--latent-caching on,off] [--no-ceiling]
// Start-up and memory, fp32 and bf16, caching on and off (bench/RESULTS-startup.md):
//   node bench/train-speed.mjs --diffusers-src DIR --models sd15 --images 16 --steps 12 --precisions fp32,bf16 \
//     --latent-caching off,on --no-ceiling --write bench/RESULTS-startup.md
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/** The engine venv's python, found as src/engine/paths.ts finds the venv. */
function enginePython() {
  if (process.env.LORA_SCRIPTS_ENGINE_VENV) return join(resolve(process.env.LORA_SCRIPTS_ENGINE_VENV), 'bin', 'python');
  const cache =
    process.env.LORA_SCRIPTS_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'lora-scripts');
  return join(resolve(cache), 'engine-venv', 'bin', 'python');
}

if (!existsSync(join(ROOT, 'node_modules'))) run('npm', ['ci']);
if (!existsSync(join(ROOT, 'dist', 'cli'))) run('npm', ['run', 'build']);
run('node', [join(ROOT, 'bin', 'lora-scripts.mjs'), 'setup'], { stdio: ['ignore', 'ignore', 'inherit'] });
run(enginePython(), ['-m', 'train_speed', ...process.argv.slice(2)], {
  cwd: process.cwd(), // paths given on the command line (--write, --work, --diffusers-src) are the caller's
  env: {
    ...process.env,
    PYTHONPATH: [join(ROOT, 'bench'), join(ROOT, 'engine'), process.env.PYTHONPATH].filter(Boolean).join(':'),
    HF_HUB_OFFLINE: '1',
  },
});

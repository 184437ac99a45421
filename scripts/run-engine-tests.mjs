// Runs the engine's pytest suite in the engine virtualenv (installed with its test extras by `setup --with-tests`).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const { engineVenvDir, venvPython, ENGINE_SOURCE_DIR } = await import('../dist/engine/paths.js');
const { setupEngine } = await import('../dist/engine/setup.js');
setupEngine({ env: process.env, withTests: true, log: (l) => process.stderr.write(`${l}\n`) });
const python = venvPython(engineVenvDir(process.env));
// The 15 slowest tests are printed at the end: CI's log then says where the suite's time goes.
const result = spawnSync(
  python,
  ['-m', 'pytest', join(ENGINE_SOURCE_DIR, 'tests'), '--durations=15', ...process.argv.slice(2)],
  {
    stdio: 'inherit',
    cwd: ENGINE_SOURCE_DIR,
    env: { ...process.env, PYTHONPATH: ENGINE_SOURCE_DIR },
  },
);
process.exit(result.status ?? 1);

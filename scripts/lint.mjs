// Lint and format check for both halves: Biome for the TypeScript/JavaScript, ruff (from the engine venv, installed by
// `setup --with-tests`) for the Python. `--fix` rewrites instead of checking. Exit 1 on any finding.
import { spawnSync } from 'node:child_process';

const fix = process.argv.includes('--fix');
const { engineVenvDir } = await import('../dist/engine/paths.js');
const ruff = `${engineVenvDir(process.env)}/bin/ruff`;

const steps = fix
  ? [
      ['npx', ['biome', 'check', '--write', '.']],
      [ruff, ['check', '--fix', '.']],
      [ruff, ['format', '.']],
    ]
  : [
      ['npx', ['biome', 'ci', '.']],
      [ruff, ['check', '.']],
      [ruff, ['format', '--check', '.']],
    ];

let failed = false;
for (const [command, args] of steps) {
  process.stderr.write(`$ ${command} ${args.join(' ')}\n`);
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.error) process.stderr.write(`lint: cannot run ${command}: ${result.error.message}\n`);
  if (result.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);

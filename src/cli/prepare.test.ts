// `lora-scripts prepare` through the real CLI: the table on stderr, the folder on stdout, `--strict` as one error line.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { drawScene } from '../demo/index.js';
import { PACKAGE_ROOT } from '../engine/paths.js';

const BIN = join(PACKAGE_ROOT, 'bin', 'lora-scripts.mjs');
let root: string;

function cli(args: string[]) {
  const result = spawnSync('node', [BIN, ...args], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: '1' } });
  return {
    code: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    errorLines: result.stderr.split('\n').filter((l) => l.startsWith('error:')),
  };
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'prepare-cli-'));
  mkdirSync(join(root, 'photos'));
  for (let i = 0; i < 3; i++)
    await sharp(Buffer.from(drawScene('jiangnan', i, 128).svg))
      .png()
      .toFile(join(root, 'photos', `p${i}.png`));
  await sharp(Buffer.from(drawScene('jiangnan', 9, 128).svg))
    .blur(3)
    .png()
    .toFile(join(root, 'photos', 'soft.png'));
  writeFileSync(join(root, 'photos', 'p0.txt'), 'a beautiful view');
});

describe('lora-scripts prepare', () => {
  it('prints the table to stderr and the prepared folder to stdout', () => {
    const result = cli(['prepare', 'photos', '--target', '128']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(`${join(root, 'photos-prepared')}\n`);
    expect(result.stderr).toContain('4 images: 3 kept, 1 excluded, 5 warnings');
    expect(result.stderr).toMatch(/soft\.png\s+sharpness\s+exclude\s+blurry: sharpness/);
    expect(result.stderr).toMatch(/p0\.png\s+vague-words\s+warn\s+vague word `beautiful`/);
    expect(result.stderr).toMatch(/p1\.png\s+missing-caption\s+warn/);
  });

  it('fails with --strict: one error line naming the first flagged picture', () => {
    const result = cli(['prepare', 'photos', '--out', 'strict', '--target', '128', '--strict']);
    expect(result.code).toBe(1);
    expect(result.errorLines).toEqual([
      `error: ${join(root, 'photos', 'soft.png')}: 1 picture was flagged (--strict), the first: ${result.errorLines[0]!.split('the first: ')[1]}`,
    ]);
    expect(result.errorLines[0]).toMatch(/the first: blurry: sharpness 0\.\d+ \(below 0\.015\)$/);
    expect(result.stderr).toContain(`hint: see ${join(root, 'strict', 'prepare-report.html')}`);
  });

  it('rejects a bad threshold flag by name', () => {
    const result = cli(['prepare', 'photos', '--min-sharpness', 'sharp']);
    expect(result.code).toBe(2);
    expect(result.errorLines).toEqual(['error: --min-sharpness: must be a number ≥ 0, got `"sharp"`']);
  });
});

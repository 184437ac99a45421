// Assignment: GrowthBook's published hash vectors (packages/sdk-js/test/cases.json, "hash" v2) pin the function, so
// it is the same in every process and in GrowthBook's SDKs; the split over many ids fits the weights.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { armIndexFor, bucketOf, fnv1a32 } from './assignment.js';
import { chiSquareUpper } from './distributions.js';

const ids = (count: number, prefix = 'user-') => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

describe('bucketOf', () => {
  it("matches GrowthBook's v2 hash vectors", () => {
    expect(bucketOf('seed', 'a')).toBe(0.0505);
    expect(bucketOf('seed', 'b')).toBe(0.2696);
    expect(bucketOf('foo', 'ab')).toBe(0.2575);
    expect(bucketOf('foo', 'def')).toBe(0.2019);
    expect(bucketOf('89123klj', '8952klfjas09ujkasdf')).toBe(0.124);
  });

  it('gives the same buckets in a separate Node process', () => {
    const module = fileURLToPath(new URL('./assignment.ts', import.meta.url));
    const script = `import(${JSON.stringify(module)}).then((m) => process.stdout.write(JSON.stringify(
      Array.from({ length: 1000 }, (_, i) => m.bucketOf('cover-test', 'user-' + i)))))`;
    // run from the repository root, where `tsx` resolves
    const root = fileURLToPath(new URL('../../../', import.meta.url));
    const child = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', cwd: root });
    expect(child.status, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toEqual(ids(1000).map((id) => bucketOf('cover-test', id)));
  }, 60_000);

  it('hashes UTF-16 code units (CJK ids work) and FNV-1a of "" is the offset basis', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    const bucket = bucketOf('jiangnan', '用户-42');
    expect(bucket).toBeGreaterThanOrEqual(0);
    expect(bucket).toBeLessThan(1);
    expect(bucketOf('jiangnan', '用户-42')).toBe(bucket);
  });

  it('spreads 100,000 ids evenly over 100 buckets (χ² p > 0.001)', () => {
    const cells = new Array<number>(100).fill(0);
    for (const id of ids(100_000)) cells[Math.floor(bucketOf('cover-test', id) * 100)]!++;
    const expected = 1000;
    const chiSquare = cells.reduce((sum, observed) => sum + (observed - expected) ** 2 / expected, 0);
    expect(chiSquareUpper(chiSquare, 99)).toBeGreaterThan(0.001);
  });
});

describe('armIndexFor', () => {
  it('splits 100,000 ids 50/50 and 20/30/50 within 1 % of the weights, χ² p > 0.001', () => {
    for (const weights of [
      [1, 1],
      [20, 30, 50],
    ]) {
      const counts = new Array<number>(weights.length).fill(0);
      for (const id of ids(100_000)) counts[armIndexFor(bucketOf('split', id), weights)]!++;
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      let chiSquare = 0;
      for (const [i, weight] of weights.entries()) {
        const expected = (100_000 * weight) / total;
        expect(Math.abs(counts[i]! - expected) / 100_000).toBeLessThan(0.01);
        chiSquare += (counts[i]! - expected) ** 2 / expected;
      }
      expect(chiSquareUpper(chiSquare, weights.length - 1)).toBeGreaterThan(0.001);
    }
  });

  it('assigns independently in experiments with different salts (cross-tab χ² p > 0.001)', () => {
    const table = [
      [0, 0],
      [0, 0],
    ];
    for (const id of ids(100_000)) {
      table[armIndexFor(bucketOf('exp-a', id), [1, 1])]![armIndexFor(bucketOf('exp-b', id), [1, 1])]!++;
    }
    const chiSquare = table.flat().reduce((sum, observed) => sum + (observed - 25_000) ** 2 / 25_000, 0);
    expect(chiSquareUpper(chiSquare, 1)).toBeGreaterThan(0.001);
  });

  it('gives a weight-0 arm nobody', () => {
    for (const id of ids(2000)) expect(armIndexFor(bucketOf('zero', id), [1, 0, 1])).not.toBe(1);
  });
});

// The SVD through r×r matrices against the product it factors: same-rank is lossless, truncation keeps what it says.
import { describe, expect, it } from 'vitest';
import { addProduct, keptEnergy, lowRankSvd, rankForEnergy, truncatedFactors, type Matrix } from './low-rank.js';
import { seededUniform } from '../testing/seeded-random.js';

function randomMatrix(rows: number, cols: number, seed: number): Matrix {
  const next = seededUniform(seed);
  return { rows, cols, data: Float32Array.from({ length: rows * cols }, () => next() * 2 - 1) };
}

const product = (up: Matrix, down: Matrix, c = 1) => {
  const out = new Float32Array(up.rows * down.cols);
  addProduct(out, down.cols, up, down, c);
  return out;
};
const squaredNorm = (x: Float32Array) => x.reduce((sum, v) => sum + v * v, 0);
const maxAbsDiff = (x: Float32Array, y: Float32Array) => x.reduce((m, v, i) => Math.max(m, Math.abs(v - y[i]!)), 0);

describe('lowRankSvd', () => {
  it('refactors a rank-8 delta at rank 8 without loss (scale and sign folded in)', () => {
    const up = randomMatrix(40, 8, 1);
    const down = randomMatrix(8, 30, 2);
    const svd = lowRankSvd(up, down, -0.375);
    const kept = truncatedFactors(svd, 8);
    const expected = product(up, down, -0.375);
    expect(maxAbsDiff(product(kept.up, kept.down), expected)).toBeLessThan(1e-5 * Math.max(...expected.map(Math.abs)));
    expect(keptEnergy(svd.sigma, 8)).toBe(1);
  });

  it('keeps exactly the reported energy at a lower rank, and that is the best rank-k error', () => {
    const up = randomMatrix(50, 12, 3);
    const down = randomMatrix(12, 36, 4);
    const delta = product(up, down, 0.5);
    const svd = lowRankSvd(up, down, 0.5);
    for (const k of [1, 4, 7]) {
      const kept = truncatedFactors(svd, k);
      const approx = product(kept.up, kept.down);
      expect(squaredNorm(approx) / squaredNorm(delta)).toBeCloseTo(keptEnergy(svd.sigma, k), 5);
      // Eckart–Young: the residual is the energy left out.
      const residual = delta.map((v, i) => v - approx[i]!);
      expect(squaredNorm(residual) / squaredNorm(delta)).toBeCloseTo(1 - keptEnergy(svd.sigma, k), 5);
    }
  });

  it('handles rank-deficient factors (a zero up, as right after initialisation, and repeated columns)', () => {
    const zeroUp: Matrix = { rows: 6, cols: 3, data: new Float32Array(18) };
    const svd = lowRankSvd(zeroUp, randomMatrix(3, 5, 5), 1);
    expect([...svd.sigma]).toEqual([0, 0, 0]);
    expect([...product(truncatedFactors(svd, 3).up, truncatedFactors(svd, 3).down)].every((v) => v === 0)).toBe(true);
    const column = randomMatrix(6, 1, 6).data;
    const repeated: Matrix = {
      rows: 6,
      cols: 2,
      data: Float32Array.from({ length: 12 }, (_, i) => column[Math.floor(i / 2)]!),
    };
    const down = randomMatrix(2, 4, 7);
    const twice = lowRankSvd(repeated, down, 1);
    expect(twice.sigma[1]).toBeLessThan(1e-6 * twice.sigma[0]!);
    const one = truncatedFactors(twice, 1);
    expect(maxAbsDiff(product(one.up, one.down), product(repeated, down))).toBeLessThan(1e-5);
  });

  it('picks the smallest rank reaching an energy target', () => {
    const sigma = Float64Array.from([3, 2, 1, 0.5]); // energies 9, 4, 1, 0.25 of 14.25
    expect(rankForEnergy(sigma, 0.6)).toBe(1);
    expect(rankForEnergy(sigma, 0.9)).toBe(2);
    expect(rankForEnergy(sigma, 0.99)).toBe(4);
    expect(rankForEnergy(new Float64Array(4), 0.9)).toBe(1);
  });
});

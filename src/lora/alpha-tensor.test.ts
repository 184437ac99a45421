// Alpha encodings checked against torch's own bits (torch.tensor(v, dtype=…).view(torch.int16)).
import { describe, expect, it } from 'vitest';
import { alphaTensor, alphaValue, exactBf16Bits, exactF16Bits } from './alpha-tensor.js';

describe('alphaTensor', () => {
  it('stores F32 as torch.tensor(alpha) does, 0-dim', () => {
    expect(alphaTensor(0.1, 'F32', 'x')).toEqual({
      dtype: 'F32',
      shape: [],
      data: Uint8Array.from([0xcd, 0xcc, 0xcc, 0x3d]),
    });
  });

  it('stores 16-bit alphas little-endian and refuses one that would round', () => {
    expect(alphaTensor(16, 'F16', 'x').data).toEqual(Uint8Array.from([0x00, 0x4c]));
    expect(alphaTensor(16, 'BF16', 'x').data).toEqual(Uint8Array.from([0x80, 0x41]));
    expect(() => alphaTensor(0.1, 'F16', 'out.safetensors')).toThrow('alpha 0.1 cannot be stored exactly as F16');
    expect(() => alphaTensor(257, 'BF16', 'out.safetensors')).toThrow('alpha 257 cannot be stored exactly as BF16');
  });
});

describe('exactF16Bits', () => {
  it.each([
    [16, 0x4c00],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [2 ** -24, 0x0001],
    [3 * 2 ** -24, 0x0003],
    [1.5 * 2 ** -14, 0x0600],
    [-2, 0xc000],
    [0, 0x0000],
  ])('%d → %i', (value, bits) => {
    expect(exactF16Bits(value)).toBe(bits);
  });

  it('has no bits for values half precision cannot hold exactly', () => {
    expect([0.1, 65536, 2 ** -25, 2049, NaN].map(exactF16Bits)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });
});

describe('exactBf16Bits', () => {
  it('takes the top half of the float32 when the bottom half is zero', () => {
    expect([16, 0.5, 256, -3].map(exactBf16Bits)).toEqual([0x4180, 0x3f00, 0x4380, 0xc040]);
    expect([257, 0.1].map(exactBf16Bits)).toEqual([undefined, undefined]);
  });
});

describe('alphaValue', () => {
  it('reads back what alphaTensor writes, in each float dtype', () => {
    for (const [alpha, dtype] of [
      [0.1, 'F32'],
      [16, 'F16'],
      [0.5, 'F16'],
      [256, 'BF16'],
      [2 ** -24, 'F16'],
    ] as const) {
      expect(alphaValue(alphaTensor(alpha, dtype, 'x'))).toBe(dtype === 'F32' ? Math.fround(alpha) : alpha);
    }
  });

  it("reads diffusers' I64 alphas and refuses tensors with more than one element", () => {
    expect(alphaValue({ dtype: 'I64', shape: [], data: new Uint8Array(new BigInt64Array([8n]).buffer) })).toBe(8);
    expect(alphaValue({ dtype: 'F32', shape: [2], data: new Uint8Array(8) })).toBeUndefined();
  });
});

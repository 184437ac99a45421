// F16/BF16 conversions against an independent oracle: the nearest representable value, ties to the even one.
import { describe, expect, it } from 'vitest';
import { decodeFloats, encodeFloats, f32BitsToBf16, f32BitsToF16 } from './float-codec.js';
import { seededUniform } from '../testing/seeded-random.js';

const halfBits = (values: number[]) => new Uint8Array(Uint16Array.from(values).buffer);
const allHalves = () => decodeFloats('F16', halfBits([...Array(65536).keys()]));
const f32Bits = (x: number) => new Uint32Array(Float32Array.of(x).buffer)[0]!;

/** Nearest finite half by search over all of them; ties go to the even bit pattern; beyond max+½ulp → inf. */
function nearestHalf(x: number, halves: Float32Array): number {
  if (Math.abs(x) >= 65520) return x > 0 ? 0x7c00 : 0xfc00;
  let best = -1;
  for (let bits = 0; bits < 0x7c00; bits++) {
    const candidate = (x < 0 || Object.is(x, -0) ? 0x8000 : 0) | bits;
    if (best < 0) {
      best = candidate;
      continue;
    }
    const d = Math.abs(halves[candidate]! - x);
    const e = Math.abs(halves[best]! - x);
    if (d < e || (d === e && (candidate & 1) === 0)) best = candidate;
  }
  return best;
}

describe('F16', () => {
  it('decodes every half and encodes it back to the same bits (NaNs stay NaN)', () => {
    const halves = allHalves();
    const back = new Uint16Array(encodeFloats('F16', halves).buffer);
    const wrong = [...Array(65536).keys()].filter((bits) =>
      Number.isNaN(halves[bits]) ? !Number.isNaN(decodeFloats('F16', halfBits([back[bits]!]))[0]) : back[bits] !== bits,
    );
    expect(wrong).toEqual([]);
    expect(halves[0x3c00]).toBe(1);
    expect(halves[0x0001]).toBe(2 ** -24);
    expect(halves[0x7bff]).toBe(65504);
  });

  it('rounds to the nearest half, ties to even, including subnormals and overflow', () => {
    const halves = allHalves();
    const samples = [
      1 + 2 ** -11,
      1 + 3 * 2 ** -11,
      2 ** -25,
      3 * 2 ** -25,
      2 ** -26,
      65504,
      65519.99,
      65520,
      -1e-8,
      6.1e-5,
      1e6,
      -0,
    ];
    const next = seededUniform(7);
    for (let i = 0; i < 3000; i++) {
      samples.push(Math.fround((next() - 0.5) * 2 ** ((i % 40) - 28)));
    }
    for (const x of samples) expect(f32BitsToF16(f32Bits(x)), String(x)).toBe(nearestHalf(Math.fround(x), halves));
  });
});

describe('BF16', () => {
  it('keeps the top half of a float32, rounding the dropped half to nearest even', () => {
    expect(f32BitsToBf16(0x3f808000)).toBe(0x3f80); // exactly halfway, even stays
    expect(f32BitsToBf16(0x3f818000)).toBe(0x3f82); // halfway, odd rounds up
    expect(f32BitsToBf16(0x3f808001)).toBe(0x3f81);
    expect(f32BitsToBf16(0x7f7fffff)).toBe(0x7f80); // rounds up into infinity, as torch does
    expect(f32BitsToBf16(0x7fc00001) & 0x7fc0).toBe(0x7fc0); // NaN stays NaN
    const values = Float32Array.of(1, -2.5, 3.140625, 1 + 2 ** -9);
    expect([...decodeFloats('BF16', encodeFloats('BF16', values))]).toEqual([1, -2.5, 3.140625, 1]);
  });
});

describe('decodeFloats', () => {
  it('reads tensor bytes at an odd offset (views into a pooled buffer)', () => {
    const bytes = new Uint8Array(9);
    bytes.set(new Uint8Array(Float32Array.of(1.5, -2).buffer), 1);
    expect([...decodeFloats('F32', bytes.subarray(1))]).toEqual([1.5, -2]);
  });
});

// Seeded randomness for the sample scenes: the same seed draws the same picture on every machine.

/** mulberry32: a tiny seeded PRNG, so the same seed draws the same dataset on every machine. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface Rng {
  /** Uniform in [min, max). */
  range(min: number, max: number): number;
  /** Uniform integer in [min, max], both included. */
  int(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(items: readonly T[]): T;
}

/** murmur3's 32-bit finaliser: every input bit flips about half the output bits. */
export function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Seeds are mixed first: mulberry32's early draws for small neighbouring seeds (0, 1, 2…) are nearly equal. */
export function createRng(seed: number): Rng {
  const next = seededRandom(mix32(seed));
  return {
    range: (min, max) => min + next() * (max - min),
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    chance: (probability) => next() < probability,
    pick: (items) => {
      const item = items[Math.floor(next() * items.length)];
      if (item === undefined) throw new RangeError('pick from an empty list');
      return item;
    },
  };
}

/**
 * One seed per picture from (dataset seed, style, index), hashed so that neighbouring seeds and styles do not
 * draw overlapping sequences (seed * 1000 + index collides once count passes 1000). FNV-1a alone maps consecutive
 * indexes to seeds a constant apart, so `mix32` scatters them.
 */
export function sceneSeed(seed: number, style: string, index: number): number {
  let hash = 0x811c9dc5;
  for (const ch of `${style}:${seed}:${index}`) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193);
  return mix32(hash);
}

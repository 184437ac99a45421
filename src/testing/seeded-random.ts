// Test data that is the same on every run and every machine: a linear congruential generator (the C library's
// constants), so a test's numbers never depend on Math.random or on the order tests run in.

/** `seededUniform(seed)()` → the next number in [0, 1) of the sequence that `seed` starts. */
export function seededUniform(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

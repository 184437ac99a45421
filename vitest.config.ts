// vitest: TypeScript tests live beside the code they test; the web app's in web/ (its browser test in web/tests/).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'web/**/*.test.ts'],
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Two files at a time even on a 2-core machine (vitest's default is cores − 1 = 1): most files wait on child
    // processes, PostgreSQL or Redis, so a second file overlaps that waiting — 28–42 % less wall time at the same
    // CPU time, measured on the store/queue and lora areas.
    maxWorkers: 2,
  },
});

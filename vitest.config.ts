import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // PGlite costs ~6 s to boot: one instance per worker (forks), reset between files.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});

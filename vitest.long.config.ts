import { defineConfig } from 'vitest/config';

/** Chaos and load suites: minutes, not seconds; run by `npm run test:chaos` / `npm run test:load`. */
export default defineConfig({
  test: {
    include: ['test/chaos/**/*.test.ts', 'test/load/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
  },
});

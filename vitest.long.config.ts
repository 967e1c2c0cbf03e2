import { defineConfig } from 'vitest/config';

/**
 * Chaos, load and security suites: minutes, not seconds; run by `npm run test:chaos`, `test:load`
 * and `test:security` (the whole adversarial suite: its short files and the full-size floods).
 */
export default defineConfig({
  test: {
    include: [
      'test/chaos/**/*.test.ts',
      'test/load/**/*.test.ts',
      'test/security/**/*.test.ts',
      // Chromium's user, sandbox and environment, checked on the real service process.
      'test/integration/main-process.test.ts',
    ],
    fileParallelism: false,
    testTimeout: 15 * 60_000,
    hookTimeout: 120_000,
    globalSetup: ['test/global-setup.ts'],
  },
});

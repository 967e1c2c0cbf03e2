import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Long variants have their own scripts: npm run test:chaos, test:load, test:security.
    exclude: ['test/chaos/**', 'test/load/**', '**/*.long.test.ts', '**/node_modules/**'],
    // Integration files each start Chromium; on 2 cores they run one file at a time.
    fileParallelism: false,
    // One worker process for all files (they run one at a time anyway): module loading and sharp/werift
    // start-up are paid once, not per file. Files clean up after themselves (tests check for leftovers).
    isolate: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    globalSetup: ['test/global-setup.ts'],
  },
});

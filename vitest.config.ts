import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // the fault tests kill servers and processes: `npm run test:faults` (vitest.faults.config.ts)
    exclude: ['test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // every file works in its own sales and buyers, so files can share one Redis
    fileParallelism: true,
  },
});

import { defineConfig } from 'vitest/config';

/**
 * `npm run test:faults`: the fault tests (test/faults), each with its own redis-server, Postgres or
 * processes to kill. Kept out of `npm test`, run after it by CI, bounded by the timeouts below.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // the files kill and restart servers: one at a time keeps the 2-core CI box honest
    fileParallelism: false,
  },
});

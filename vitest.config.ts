import { defineConfig } from 'vitest/config';

/**
 * The suites that run on both topologies (one suite, two topologies): the `cluster` project runs
 * them again against a 3-master Redis Cluster the global setup starts (docs/cluster.md).
 */
const BOTH_TOPOLOGIES = [
  'test/orders/**/*.test.ts',
  'test/payments/**/*.test.ts',
  'test/limits/**/*.test.ts',
  'test/worker/**/*.test.ts',
];

export default defineConfig({
  test: {
    // the fault tests kill servers and processes: `npm run test:faults` (vitest.faults.config.ts)
    exclude: ['test/faults/**', '**/node_modules/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // every file works in its own sales and buyers, so files can share one Redis
    fileParallelism: true,
    projects: [
      { extends: true, test: { name: 'single', include: ['test/**/*.test.ts'] } },
      { extends: true, test: { name: 'cluster', include: BOTH_TOPOLOGIES, provide: { topology: 'cluster' } } },
    ],
  },
});

/**
 * The test fixtures (vitest `test.extend`): a test names what it needs and gets it set up, and
 * torn down after it, in place of module-level `await testApp()`:
 *
 *   test('…', async ({ app, sale, buyer }) => { … })
 *
 * File-scoped (one per test file, built by the first test that asks): `redisUrl` (the run's
 * redis-server), `raw` (an ioredis client for looking behind the API), `redis` (the RedisPort
 * the scripts run through), `gateway` / `app` (the gateway on that Redis, built with `appDeps`),
 * `origin` (that app served over real HTTP on a free loopback port), `ledger` (PGlite in
 * memory; the app posts to it after `useLedger()`).
 * Test-scoped (fresh for every test): `sale` (an open sale's id, stock 10), `buyer`.
 *
 * A file overrides a fixture with `test.scoped`, e.g. a redis-server of its own:
 *   usePrivateRedis();   or   test.scoped({ appDeps: [{ … }, { scope: 'file' }] })
 */
import type { Redis } from 'ioredis';
import { test as base, inject } from 'vitest';
import type { AppDeps } from '../src/app.js';
import { Ledger } from '../src/ledger/ledger.js';
import type { Policies } from '../src/limits/policies.js';
import { SaleTally } from '../src/ops/sale-tally.js';
import type { RedisPort } from '../src/redis/port.js';
import { ioredisPort, type RedisClient } from '../src/runtime/node/adapters/ioredis-port.js';
import { pgliteSql } from '../src/runtime/node/adapters/sql.js';
import { PERMISSIVE_POLICIES, serveApp, startGateway, type App, type Gateway } from './support/app.js';
import { createSale } from './support/http.js';
import { closeClient, connected, openRedis, startPrivateRedis } from './support/redis.js';
import { buyer as newBuyer } from './support/secrets.js';

export interface FileFixtures {
  redisUrl: string;
  raw: Redis;
  redis: RedisPort;
  appDeps: Partial<AppDeps>;
  /** the rate-limit policies in force until a test sets some (default: permissive) */
  policies: Policies;
  ledger: Ledger;
  gateway: Gateway;
  app: App;
  origin: string;
}

export interface TestFixtures {
  sale: string;
  buyer: { userId: string; jwt: string };
}

export const test = base.extend<TestFixtures & FileFixtures>({
  redisUrl: [
    async ({}, use) => {
      await use(inject('redisUrl'));
    },
    { scope: 'file' },
  ],
  raw: [
    async ({ redisUrl }, use) => {
      const client = openRedis(redisUrl);
      await use(client);
      await closeClient(client);
    },
    { scope: 'file' },
  ],
  redis: [
    async ({ redisUrl }, use) => {
      const client = await connected(openRedis(redisUrl, { gateway: true }));
      await use(ioredisPort(client as RedisClient));
      await closeClient(client);
    },
    { scope: 'file' },
  ],
  appDeps: [{}, { scope: 'file' }],
  policies: [PERMISSIVE_POLICIES, { scope: 'file' }],
  ledger: [openLedger, { scope: 'file' }],
  gateway: [
    async ({ redisUrl, appDeps, policies }, use) => {
      const gateway = await startGateway(redisUrl, appDeps, policies);
      await use(gateway);
      await gateway.close();
    },
    { scope: 'file' },
  ],
  app: [
    async ({ gateway }, use) => {
      await use(gateway.app);
    },
    { scope: 'file' },
  ],
  origin: [
    async ({ app }, use) => {
      const served = await serveApp(app);
      await use(served.url);
      await served.close();
    },
    { scope: 'file' },
  ],
  sale: async ({ app }, use) => {
    await use(await createSale(app));
  },
  buyer: async ({}, use) => {
    await use(await newBuyer());
  },
});

async function openLedger({}, use: (ledger: Ledger) => Promise<void>) {
  await use(await Ledger.open(await pgliteSql()));
}

/**
 * Gives the calling file's gateway a ledger (PGlite in memory), the same one the `ledger`
 * fixture hands the tests: wallets, charges and the worker's postings become reachable.
 * `appDeps`: what else the file's gateway is built with.
 */
export function useLedger(appDeps: Partial<AppDeps> = {}): void {
  // both in one scoped call: a scoped fixture's dependencies resolve among the scoped ones
  test.scoped({
    ledger: [openLedger, { scope: 'file' }],
    appDeps: [
      async ({ ledger }, use) => {
        await use(ledger ? { ...appDeps, ledger } : appDeps);
      },
      { scope: 'file' },
    ],
  });
}

/**
 * Gives the calling file's tests (or one describe block's, called inside it) a redis-server of
 * their own, stopped after the file: the redis, raw, app… fixtures then work on it. (A fixture
 * overridden through `test.extend` would not reach the fixtures that depend on it; `scoped`
 * does.)
 */
export function usePrivateRedis(): void {
  test.scoped({
    redisUrl: [
      async ({}, use) => {
        const server = await startPrivateRedis();
        await use(server.url);
        await server.stop();
      },
      { scope: 'file' },
    ],
  });
}

/**
 * For the ops view's tests: `tally` counts what the tests flush by hand; `tallied` is a gateway
 * counting into it, with the `ledger` fixture.
 */
export const tallyTest = test.extend<{ tally: SaleTally; tallied: App }>({
  tally: [
    async ({ redis }, use) => {
      await use(new SaleTally(redis));
    },
    { scope: 'file' },
  ],
  tallied: [
    async ({ redisUrl, tally, ledger, policies }, use) => {
      const gateway = await startGateway(redisUrl, { tally, ledger }, policies);
      await use(gateway.app);
      await gateway.close();
    },
    { scope: 'file' },
  ],
});

export { describe, expect } from 'vitest';

import { serve, type ServerType } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { afterAll } from 'vitest';
import { createApp, type AppDeps } from '../../src/app.js';
import { SimulatedChannel } from '../../src/channels/simulated-channel.js';
import { LimitsStore } from '../../src/limits/limits-store.js';
import { LimitsWatcher } from '../../src/limits/limits-watcher.js';
import type { Policies } from '../../src/limits/policies.js';
import { silentLogger } from '../../src/logger.js';
import { nodeCrypto, nodeHmacSha256 } from '../../src/runtime/node/adapters/crypto.js';
import { ioredisPort, type RedisClient } from '../../src/runtime/node/adapters/ioredis-port.js';
import { closeClient, connected, openRedis, redisUrl } from './redis.js';
import { ADMIN_TOKEN, CHANNEL_SECRET, JWT_SECRET, TOKEN_SECRET } from './secrets.js';

/**
 * Until a test sets policies, limits high enough that no test is refused by them (the shared
 * Redis never gets policies set; test/limits has a Redis of its own).
 */
export const PERMISSIVE_POLICIES: Policies = {
  orders: { perUser: { limit: 1_000_000, windowSeconds: 1, dryRun: false } },
  payments: { perUser: { limit: 1_000_000, windowSeconds: 1, dryRun: false } },
};

/** The gateway on the Redis at `url`, connected; `close()` stops its watcher and client. */
export async function startGateway(
  url: string,
  overrides: Partial<AppDeps> = {},
  defaults: Policies = PERMISSIVE_POLICIES,
) {
  const client = await connected(openRedis(url, { gateway: true }));
  const redis = ioredisPort(client as RedisClient);
  const limits = new LimitsWatcher(new LimitsStore(redis, defaults), silentLogger, { intervalMs: 200 });
  try {
    await limits.start();
  } catch (err) {
    client.disconnect();
    throw err;
  }
  const app = createApp({
    limits,
    redis,
    log: silentLogger,
    jwtSecret: JWT_SECRET,
    adminToken: ADMIN_TOKEN,
    tokenSecret: TOKEN_SECRET,
    channels: new Map([['alipay', new SimulatedChannel('alipay', nodeHmacSha256(CHANNEL_SECRET), async () => {})]]),
    crypto: nodeCrypto,
    clientAddress: (c) => c.req.header('X-Test-Address'),
    ...overrides,
  });
  const close = async () => {
    await limits.stop();
    await closeClient(client);
  };
  return { app, redis, client, limits, close };
}

export type Gateway = Awaited<ReturnType<typeof startGateway>>;
export type App = Gateway['app'];

/** The gateway on the test Redis, connected; closed after the file's tests. */
export async function testApp(overrides: Partial<AppDeps> = {}, defaults: Policies = PERMISSIVE_POLICIES) {
  const gateway = await startGateway(redisUrl(), overrides, defaults);
  afterAll(() => gateway.close());
  const { app, redis, client, limits } = gateway;
  return { app, redis, client, limits };
}

/** Serves `app` over real HTTP on a free loopback port; `close()` stops it. */
export async function serveApp(app: App): Promise<{ url: string; close: () => Promise<void> }> {
  const server: ServerType = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/**
 * Durable acceptance. The embedded Redis fsyncs its AOF before it answers (appendfsync always,
 * unless RUSHGATE_REDIS_FSYNC=everysec). With RUSHGATE_REDIS_WAIT_REPLICAS, every mutating script
 * is followed by WAIT in the same pipeline. Invariant: every order acknowledged (201) is on the
 * replica when it is answered; with the replica gone, orders are refused (503, Retry-After), never
 * acknowledged, and the same request retried once a replica is back is answered, not applied twice.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { onTestFinished } from 'vitest';
import { freePort, startEmbeddedRedis } from '../../../src/runtime/node/dev/embedded-redis.js';
import { gatewayRedisOptions, ioredisPort } from '../../../src/runtime/node/adapters/ioredis-port.js';
import { keys } from '../../../src/redis/keys.js';
import { orderField } from '../../../src/redis/records.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../../fixtures.js';
import { buyer, call, createSale, expectProblem, startGateway, type App } from '../../helpers.js';

/** `primary`: a client on the file's Redis; `waiting`: the gateway on it, waiting for one replica after every write. */
const test = withFixtures.extend<{ primary: Redis; waiting: App }>({
  primary: [
    async ({ redisUrl }, use) => {
      const client = new Redis(redisUrl, gatewayRedisOptions(2000));
      await use(client);
      await client.quit();
    },
    { scope: 'file' },
  ],
  waiting: [
    async ({ redisUrl, primary, policies }, use) => {
      // a WAIT timeout with room for a busy machine: a replica that is up must never be taken for missing
      const redis = ioredisPort(primary, { replicas: 1, timeoutMs: 1500 });
      const gateway = await startGateway(redisUrl, { redis }, policies);
      await use(gateway.app);
      await gateway.close();
    },
    { scope: 'file' },
  ],
});
usePrivateRedis();

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A replica of the Redis at `primaryUrl` on a free port, stopped after the test; resolves once it is in sync. */
async function startReplica(primaryUrl: string): Promise<{ child: ChildProcess; client: Redis }> {
  const primaryPort = Number(new URL(primaryUrl).port);
  const port = await freePort();
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--replicaof',
      '127.0.0.1',
      String(primaryPort),
      '--loglevel',
      'warning',
    ],
    { stdio: 'ignore' },
  );
  const client = new Redis(port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => 50 });
  client.on('error', () => {});
  onTestFinished(() => {
    client.disconnect();
    child.kill('SIGKILL');
  });
  await until('the replica syncs', async () => {
    try {
      if (client.status === 'wait') await client.connect();
      return /master_link_status:up/.test(await client.info('replication'));
    } catch {
      return false;
    }
  });
  return { child, client };
}

describe('durable acceptance', () => {
  test('the embedded Redis fsyncs always by default, everysec when asked', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rushgate-fsync-'));
    onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
    for (const fsync of [undefined, 'everysec'] as const) {
      const server = await startEmbeddedRedis({ dir: join(dir, fsync ?? 'default'), ...(fsync ? { fsync } : {}) });
      const client = new Redis(server.url);
      try {
        expect(await client.config('GET', 'appendfsync')).toEqual(['appendfsync', fsync ?? 'always']);
        expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      } finally {
        client.disconnect();
        await server.stop();
      }
    }
  });

  test('with WAIT 1: every acknowledged order is on the replica; without a replica, 503 and nothing acknowledged; the retry is answered once it is back', async ({
    waiting: app,
    primary: client,
    redisUrl,
  }) => {
    const replica = await startReplica(redisUrl);
    const saleId = await createSale(app, { stock: 100, perUserLimit: 100 });
    const b = await buyer();
    const order = (key: string) =>
      call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {}, headers: { 'Idempotency-Key': key } });

    const placed = await Promise.all(Array.from({ length: 20 }, (_, i) => order(`k${i}`)));
    expect(placed.map((r) => r.status)).toEqual(Array(20).fill(201));
    for (const r of placed)
      expect(await replica.client.hget(keys.order(saleId, r.body.orderId), orderField.status)).toBe('held');

    replica.child.kill('SIGKILL');
    await until('the primary sees the replica gone', async () =>
      /connected_slaves:0/.test(await client.info('replication')),
    );
    const refused = await order('during-outage');
    expectProblem(refused, 503, 'unavailable');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    // a new replica: the same request is answered from what the primary applied, once
    const second = await startReplica(redisUrl);
    const retried = await order('during-outage');
    expect(retried.status).toBe(201);
    expect(retried.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.client.hget(keys.order(saleId, retried.body.orderId), orderField.status)).toBe('held');
    const sale = await call(app, 'GET', `/v1/sales/${saleId}`);
    expect(sale.body.available).toBe(100 - 21);
  }, 60_000);
});

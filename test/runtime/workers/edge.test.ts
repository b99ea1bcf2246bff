/**
 * The HTTP contract at the edge: the Worker build under wrangler dev (a real workerd), on a Redis
 * of its own shared with a Node gateway and a Node payment worker, as an edge deployment runs.
 */
import { silentLogger } from '../../../src/logger.js';
import { keys } from '../../../src/redis/keys.js';
import { orderField } from '../../../src/redis/records.js';
import { PaymentWorker } from '../../../src/worker/payment-worker.js';
import {
  ADMIN_TOKEN,
  admin,
  buyer,
  call,
  createSale,
  expectProblem,
  pay,
  PERMISSIVE_POLICIES,
  placeOrder,
  saleCounters,
  unique,
  type App,
  type Gateway,
} from '../../helpers.js';
import { test as withFixtures, describe, expect, useLedger, usePrivateRedis } from '../../fixtures.js';
import { redisRelay, remoteApp, startEdge } from './edge-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * `relay`: the TCP relay the Worker reaches Redis through; `edgeBase`: the Worker under wrangler
 * dev, and `edge` the same seen as an app; `node`: a Node gateway on the same Redis (the
 * gateway fixture, with the `ledger` fixture): the ledger's routes, and a second instance for the
 * limits.
 */
const test = withFixtures.extend<{
  relay: Awaited<ReturnType<typeof redisRelay>>;
  node: Gateway;
  edgeBase: string;
  edge: App;
}>({
  relay: [
    async ({ redisUrl }, use) => {
      const relay = await redisRelay(redisUrl);
      await use(relay);
      await relay.close();
    },
    { scope: 'file' },
  ],
  node: [
    async ({ gateway }, use) => {
      await use(gateway);
    },
    { scope: 'file' },
  ],
  edgeBase: [
    async ({ relay, node }, use) => {
      const started = await startEdge(relay.url, { RUSHGATE_CHANNELS: 'alipay', RUSHGATE_REDIS_TIMEOUT_MS: '1000' });
      // no test here is refused by a limit unless it sets one
      expect((await admin(node.app, 'PUT', '/admin/limits', { policies: PERMISSIVE_POLICIES })).status).toBe(200);
      await use(started.base);
      await started.stop();
    },
    { scope: 'file' },
  ],
  edge: [
    async ({ edgeBase }, use) => {
      await use(remoteApp(edgeBase));
    },
    { scope: 'file' },
  ],
});
// a payment worker reads every sale's lanes: this file gets a Redis of its own
usePrivateRedis();
useLedger();

describe('the gateway at the edge (workerd)', () => {
  test('serves sales, orders, payments, their replays and reads as the Node gateway does', async ({
    edge,
    node,
    raw,
  }) => {
    expect((await call(edge, 'GET', '/readyz')).body).toEqual({ status: 'ready', checks: { redis: 'ok' } });
    const saleId = await createSale(edge, { stock: 2, price: 100 });
    expect((await call(edge, 'GET', `/v1/sales/${saleId}`)).body).toMatchObject({
      saleId,
      available: 2,
      status: 'open',
    });
    const b = await buyer();
    const order = await placeOrder(edge, saleId, b.jwt);
    const first = await pay(edge, order.orderId, b.jwt, order.paymentToken);
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body).toMatchObject({ orderId: order.orderId, status: 'queued' });
    // the same token again is the same payment, not a second one
    const replay = await pay(edge, order.orderId, b.jwt, order.paymentToken);
    expect(replay.body.paymentId).toBe(first.body.paymentId);
    expect((await call(edge, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body).toMatchObject({
      status: 'paying',
    });
    expect((await call(edge, 'GET', `/v1/payments/${first.body.paymentId}`, { token: b.jwt })).body).toMatchObject({
      status: 'queued',
    });
    // the Node gateway reads what the edge wrote
    expect(await saleCounters(node.app, saleId, raw)).toMatchObject({ available: 1, held: 1, sold: 0 });
    // a channel named in RUSHGATE_CHANNELS is a method here (the Node worker charges it); others are not
    const c = await buyer();
    const other = await placeOrder(edge, saleId, c.jwt);
    const refused = await pay(edge, other.orderId, c.jwt, other.paymentToken, 'paypal');
    expectProblem(refused, 400, 'invalid_request');
    expect(refused.body.methods).toEqual(['wallet', 'alipay']);
  });

  test('refuses bad input with 4xx problem+json and changes nothing', async ({ edge, node, raw }) => {
    const saleId = await createSale(edge, { stock: 3 });
    const b = await buyer();
    expectProblem(await call(edge, 'POST', `/v1/sales/${saleId}/orders`, { body: {} }), 401, 'unauthenticated');
    expectProblem(
      await call(edge, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: { quantity: 0 } }),
      400,
      'invalid_request',
    );
    expectProblem(
      await call(edge, 'POST', `/v1/sales/${saleId}/orders`, {
        token: b.jwt,
        rawBody: '{',
        headers: { 'Content-Type': 'application/json' },
      }),
      400,
      'invalid_request',
    );
    expectProblem(await call(edge, 'GET', '/admin/sales/x', { token: 'wrong' }), 401, 'unauthenticated');
    expect(await saleCounters(node.app, saleId, raw)).toMatchObject({ available: 3, held: 0 });
  });

  test('answers routes it leaves to Node with 501 not_served_here problem+json, never an empty 200', async ({
    edge,
  }) => {
    const b = await buyer();
    for (const [method, path, token] of [
      ['GET', '/metrics', undefined],
      ['GET', '/v1/wallet', b.jwt],
      ['POST', '/admin/wallets/someone/credits', 'admin'],
      ['GET', '/admin/sales/any/charges', 'admin'],
      ['POST', '/v1/channels/alipay/notifications', undefined],
    ] as const) {
      const res = await call(edge, method, path, token === 'admin' ? { token: ADMIN_TOKEN } : token ? { token } : {});
      expectProblem(res, 501, 'not_served_here');
      expect(res.body.detail).toMatch(/Node gateway/);
    }
    // an unknown route is still 404
    expectProblem(await call(edge, 'GET', '/v1/nothing-here'), 404, 'not_found');
  });

  test('a payment accepted at the edge is settled by a Node payment worker on the same Redis', async ({
    edge,
    node,
    ledger,
    raw,
  }) => {
    const saleId = await createSale(edge, { stock: 5, price: 100 });
    const b = await buyer();
    expect(
      (
        await admin(node.app, 'POST', `/admin/wallets/${b.userId}/credits`, {
          amount: 1000,
          currency: 'CNY',
          reference: unique('ref'),
        })
      ).status,
    ).toBe(201);
    const order = await placeOrder(edge, saleId, b.jwt);
    const accepted = await pay(edge, order.orderId, b.jwt, order.paymentToken);
    expect(accepted.status).toBe(202);
    const worker = new PaymentWorker(node.redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10 });
    worker.start();
    try {
      const settled = await waitFor('the payment to settle', async () => {
        const res = await call(edge, 'GET', `/v1/payments/${accepted.body.paymentId}`, { token: b.jwt });
        return res.body.status === 'queued' || res.body.status === 'processing' ? undefined : res.body;
      });
      expect(settled).toMatchObject({ status: 'succeeded' });
    } finally {
      await worker.stop();
    }
    expect((await call(edge, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body).toMatchObject({
      status: 'paid',
    });
    expect(await saleCounters(node.app, saleId, raw)).toMatchObject({ sold: 1, held: 0, available: 4 });
    expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
  });

  test('blocks by CF-Connecting-IP, the address Cloudflare gives', async ({ edge, node }) => {
    const saleId = await createSale(edge, { stock: 100, perUserLimit: 100 });
    const address = '203.0.113.77';
    expect(
      (await admin(node.app, 'PUT', `/admin/blocklist/addresses/${address}`, { ttlSeconds: 60, reason: 'test' }))
        .status,
    ).toBe(200);
    try {
      const b = await buyer();
      // a block made through another instance: enforced here once the edge's copy is refreshed
      const refused = await waitFor('the block to reach the edge', async () => {
        const res = await call(edge, 'POST', `/v1/sales/${saleId}/orders`, {
          token: b.jwt,
          body: {},
          headers: { 'CF-Connecting-IP': address },
        });
        return res.status === 201 ? undefined : res;
      });
      expectProblem(refused, 403, 'blocked');
      await placeOrder(edge, saleId, b.jwt); // from another address: admitted
    } finally {
      await admin(node.app, 'DELETE', `/admin/blocklist/addresses/${address}`);
    }
  });

  test('enforces a limits change made through another instance within 1 s, with no request in between', async ({
    edge,
    node,
  }) => {
    const saleId = await createSale(edge, { stock: 100, perUserLimit: 100 });
    await placeOrder(edge, saleId, (await buyer()).jwt); // the edge has a copy of the limits now
    const closed = { ...PERMISSIVE_POLICIES, orders: { perUser: { limit: 0, windowSeconds: 1, dryRun: false } } };
    expect((await admin(node.app, 'PUT', '/admin/limits', { policies: closed })).status).toBe(200);
    const changedAt = Date.now();
    try {
      // the contract's deadline itself (not a wait for a condition): no timer runs in a Worker
      // between requests, so the first request after it must find the change in force
      await sleep(1000 - (Date.now() - changedAt));
      expectProblem(
        await call(edge, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }),
        429,
        'rate_limited',
      );
    } finally {
      expect((await admin(node.app, 'PUT', '/admin/limits', { policies: PERMISSIVE_POLICIES })).status).toBe(200);
    }
    // and a change made through the edge applies at once there (PUT refreshes its copy)
    expect((await admin(edge, 'PUT', '/admin/limits', { policies: closed })).status).toBe(200);
    try {
      expectProblem(
        await call(edge, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }),
        429,
        'rate_limited',
      );
    } finally {
      expect((await admin(edge, 'PUT', '/admin/limits', { policies: PERMISSIVE_POLICIES })).status).toBe(200);
    }
  });

  test('opens at most one Redis connection per request and keeps none once the request is done', async ({
    edge,
    relay,
  }) => {
    const saleId = await createSale(edge, { stock: 50, perUserLimit: 50 });
    const b = await buyer();
    const before = relay.accepted();
    const requests = 20;
    for (let i = 0; i < requests; i++) await placeOrder(edge, saleId, b.jwt);
    const connects = relay.accepted() - before;
    expect(connects).toBeGreaterThanOrEqual(1);
    expect(connects).toBeLessThanOrEqual(requests);
    // every socket is closed with its request (and its waitUntil work), none kept for the next
    await waitFor('the edge to close its connections', async () => (relay.open() === 0 ? true : undefined));
  });

  test('its cron handler sweeps holds that have passed and returns their stock', async ({
    edge,
    node,
    raw,
    edgeBase,
  }) => {
    const saleId = await createSale(edge, { stock: 2, holdSeconds: 10 });
    const order = await placeOrder(edge, saleId, (await buyer()).jwt);
    // the hold as if it had passed (no test waits out a real hold)
    await raw.hset(keys.order(saleId, order.orderId), orderField.expiresAt, '1');
    await raw.zadd(keys.holds(saleId), 1, order.orderId);
    expect((await fetch(`${edgeBase}/__scheduled?cron=*+*+*+*+*`)).status).toBe(200);
    expect(await raw.hget(keys.order(saleId, order.orderId), orderField.status)).toBe('expired');
    expect(await saleCounters(node.app, saleId, raw)).toMatchObject({ available: 2, held: 0 });
  });

  test('fails closed: with Redis unreachable, orders and payments answer 503 with Retry-After and change nothing', async ({
    edge,
    node,
    raw,
    relay,
  }) => {
    const saleId = await createSale(edge, { stock: 4 });
    const b = await buyer();
    const order = await placeOrder(edge, saleId, b.jwt);
    relay.cut();
    try {
      for (const res of [
        await call(edge, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }),
        await pay(edge, order.orderId, b.jwt, order.paymentToken),
        await call(edge, 'GET', '/readyz'),
      ]) {
        expectProblem(res, 503, 'unavailable');
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      }
      expect((await call(edge, 'GET', '/healthz')).status).toBe(200);
    } finally {
      relay.restore();
    }
    expect(await saleCounters(node.app, saleId, raw)).toMatchObject({ available: 3, held: 1 });
    expect(await raw.hget(keys.order(saleId, order.orderId), orderField.status)).toBe('held');
    // the next request opens a new connection: the edge recovers by itself
    expect((await pay(edge, order.orderId, b.jwt, order.paymentToken)).status).toBe(202);
  });

  test('fails closed when Redis hangs: the command times out (RUSHGATE_REDIS_TIMEOUT_MS) into 503, not a hung request', async ({
    edge,
    node,
    raw,
    relay,
  }) => {
    const saleId = await createSale(edge, { stock: 2 });
    const b = await buyer();
    relay.stall();
    try {
      const res = await call(edge, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} });
      expectProblem(res, 503, 'unavailable');
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    } finally {
      relay.restore();
    }
    expect(await saleCounters(node.app, saleId, raw)).toMatchObject({ available: 2, held: 0 });
    await placeOrder(edge, saleId, b.jwt);
  });
});

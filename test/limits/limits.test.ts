/**
 * Live limits: versioned policies with history and rollback, and the blocklist, applied by every
 * instance within a second. Policies are global, so this file has a Redis of its own.
 */
import { DEFAULT_POLICIES } from '../../src/limits/policies.js';
import { test as base, describe, expect, usePrivateRedis } from '../fixtures.js';
import {
  admin,
  buyer,
  call,
  createSale,
  expectProblem,
  pay,
  placeOrder,
  startGateway,
  type Gateway,
} from '../helpers.js';

/** `one` is the gateway fixture; `two` a second gateway instance on the same Redis. */
const test = base.extend<{ one: Gateway; two: Gateway }>({
  one: [
    async ({ gateway }, use) => {
      await use(gateway);
    },
    { scope: 'file' },
  ],
  two: [
    async ({ redisUrl, appDeps, policies }, use) => {
      const gateway = await startGateway(redisUrl, appDeps, policies);
      await use(gateway);
      await gateway.close();
    },
    { scope: 'file' },
  ],
});
usePrivateRedis();
test.scoped({ policies: [DEFAULT_POLICIES, { scope: 'file' }] });

const policies = (limit: number, extra: Record<string, unknown> = {}) => ({
  orders: { perUser: { limit, windowSeconds: 10 } },
  payments: { perUser: { limit: 5, windowSeconds: 60, dryRun: true } },
  ...extra,
});

async function within(ms: number, probe: () => boolean | Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await probe())) {
    if (Date.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe('/admin/limits', () => {
  test('answers the defaults before anything is set', async ({ one }) => {
    expect((await admin(one.app, 'GET', '/admin/limits')).body).toEqual({
      version: 0,
      policies: DEFAULT_POLICIES,
      dryRunRefusals: {},
    });
  });

  test('a change through one instance is in force on another within 1 s, with its history', async ({ one, two }) => {
    const put = await admin(one.app, 'PUT', '/admin/limits', { policies: policies(7) });
    expect(put.status).toBe(200);
    expect(put.body.version).toBe(1);
    expect(put.body.policies.orders.perUser).toEqual({ limit: 7, windowSeconds: 10, dryRun: false });
    expect(one.limits.version).toBe(1); // the instance that took the change, at once
    await within(1000, () => two.limits.version === 1 && two.limits.policies.orders.perUser.limit === 7);
    expect((await admin(two.app, 'GET', '/admin/limits')).body).toEqual({ ...put.body, dryRunRefusals: {} });
    const history = (await admin(one.app, 'GET', '/admin/limits/history')).body.versions;
    expect(history[0]).toMatchObject({ version: 1, policies: put.body.policies });
    expect(history[0].changes).toContainEqual({ path: 'orders.perUser.limit', from: 10, to: 7 });
  });

  test('rollback installs an earlier version again, as a new version', async ({ one, two }) => {
    const v2 = await admin(one.app, 'PUT', '/admin/limits', { policies: policies(0) });
    expect(v2.body.policies.orders.perUser.limit).toBe(0);
    const back = await admin(one.app, 'POST', '/admin/limits/rollback', { version: 1 });
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ version: 3, rolledBackTo: 1, policies: { orders: { perUser: { limit: 7 } } } });
    await within(1000, () => two.limits.version === 3);
    expectProblem(await admin(one.app, 'POST', '/admin/limits/rollback', { version: 999 }), 404, 'not_found');
    expectProblem(await admin(one.app, 'POST', '/admin/limits/rollback', { version: 'one' }), 400, 'invalid_request');
  });

  test.for<[string, unknown]>([
    ['a negative limit', policies(-1)],
    ['a fractional limit', policies(1.5)],
    ['a string limit', policies('5' as unknown as number)],
    ['a window of 0 s', { ...policies(1), orders: { perUser: { limit: 1, windowSeconds: 0 } } }],
    ['an absurd window', { ...policies(1), orders: { perUser: { limit: 1, windowSeconds: 10_000_000 } } }],
    ['an unknown field', { ...policies(1), orders: { perUser: { limit: 1, windowSeconds: 1, burst: 9 } } }],
    ['an unknown policy', policies(1, { downloads: { perUser: { limit: 1, windowSeconds: 1 } } })],
    ['no payments policy', { orders: { perUser: { limit: 1, windowSeconds: 1 } } }],
    ['a bad autoBlock', policies(1, { autoBlock: { refusals: 0, windowSeconds: 1, blockSeconds: 1 } })],
  ])('refuses %s with 400 and changes nothing', async ([, bad], { one }) => {
    const before = (await admin(one.app, 'GET', '/admin/limits')).body;
    expectProblem(await admin(one.app, 'PUT', '/admin/limits', { policies: bad }), 400, 'invalid_request');
    expect((await admin(one.app, 'GET', '/admin/limits')).body).toEqual(before);
  });

  test('refuses a bare policies object with 400 saying to wrap it, and changes nothing', async ({ one }) => {
    const before = (await admin(one.app, 'GET', '/admin/limits')).body;
    const res = await admin(one.app, 'PUT', '/admin/limits', policies(3));
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.detail).toMatch(/wrap the policies as \{ "policies": \{ … \} \}/);
    expect((await admin(one.app, 'GET', '/admin/limits')).body).toEqual(before);
  });

  test('is for ops only', async ({ one }) => {
    expectProblem(await call(one.app, 'GET', '/admin/limits'), 401, 'unauthenticated');
    expectProblem(
      await call(one.app, 'PUT', '/admin/limits', { body: { policies: policies(1) }, token: (await buyer()).jwt }),
      401,
      'unauthenticated',
    );
  });
});

describe('/admin/blocklist', () => {
  test('a blocked buyer gets 403 blocked on orders and payments on every instance; unblocking restores them', async ({
    one,
    two,
  }) => {
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 5 });
    const b = await buyer();
    const other = await buyer();
    const order = await placeOrder(one.app, saleId, b.jwt);
    const block = await admin(one.app, 'PUT', `/admin/blocklist/${b.userId}`, { ttlSeconds: 600, reason: 'bot' });
    expect(block.status).toBe(200);
    expect(block.body).toMatchObject({ userId: b.userId, reason: 'bot' });
    expectProblem(
      await call(one.app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }),
      403,
      'blocked',
    );
    await within(
      1000,
      async () =>
        (await call(two.app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} })).status === 403,
    );
    expectProblem(await pay(two.app, order.orderId, b.jwt, order.paymentToken), 403, 'blocked');
    // nobody else is affected, and the blocked buyer can still read its order
    await placeOrder(two.app, saleId, other.jwt);
    expect((await call(two.app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).status).toBe(200);
    expect((await admin(one.app, 'DELETE', `/admin/blocklist/${b.userId}`)).status).toBe(204);
    await within(1000, async () => (await pay(two.app, order.orderId, b.jwt, order.paymentToken)).status === 202);
  });

  test('a blocked address is refused for every buyer coming from it; other addresses are not', async ({ one }) => {
    const saleId = await createSale(one.app, { stock: 10 });
    const res = await admin(one.app, 'PUT', '/admin/blocklist/addresses/198.51.100.9', {
      ttlSeconds: 60,
      reason: 'abuse',
    });
    expect(res.body).toMatchObject({ address: '198.51.100.9', reason: 'abuse' });
    const from = (address: string) => async () =>
      call(one.app, 'POST', `/v1/sales/${saleId}/orders`, {
        token: (await buyer()).jwt,
        body: {},
        headers: { 'X-Test-Address': address },
      });
    expectProblem(await from('198.51.100.9')(), 403, 'blocked');
    expect((await from('198.51.100.10')()).status).toBe(201);
    expect((await admin(one.app, 'DELETE', '/admin/blocklist/addresses/198.51.100.9')).status).toBe(204);
    expect((await from('198.51.100.9')()).status).toBe(201);
    expectProblem(
      await admin(one.app, 'PUT', '/admin/blocklist/addresses/not-an-ip', { ttlSeconds: 5 }),
      400,
      'invalid_request',
    );
  });

  test('a block ends by itself after its ttl', async ({ one }) => {
    const saleId = await createSale(one.app);
    const b = await buyer();
    await admin(one.app, 'PUT', `/admin/blocklist/${b.userId}`, { ttlSeconds: 1 });
    expectProblem(
      await call(one.app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }),
      403,
      'blocked',
    );
    await within(
      2500,
      async () =>
        (await call(one.app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} })).status === 201,
    );
  });

  test.for<[string, unknown]>([
    ['ttl 0', { ttlSeconds: 0 }],
    ['a huge ttl', { ttlSeconds: 10 ** 9 }],
    ['no ttl', { reason: 'x' }],
    ['an unknown field', { ttlSeconds: 1, note: 'x' }],
  ])('refuses %s with 400', async ([, body], { one }) => {
    expectProblem(await admin(one.app, 'PUT', '/admin/blocklist/someone', body), 400, 'invalid_request');
  });

  test('a blocklist path of two segments other than addresses/… is 404 and blocks nothing', async ({ one }) => {
    const before = await admin(one.app, 'GET', '/admin/limits');
    for (const method of ['PUT', 'DELETE'] as const) {
      const res = await admin(one.app, method, '/admin/blocklist/users/198.51.100.9', { ttlSeconds: 60 });
      expectProblem(res, 404, 'not_found');
    }
    const saleId = await createSale(one.app, { stock: 10 });
    const res = await call(one.app, 'POST', `/v1/sales/${saleId}/orders`, {
      token: (await buyer()).jwt,
      body: {},
      headers: { 'X-Test-Address': '198.51.100.9' },
    });
    expect(res.status).toBe(201);
    expect((await admin(one.app, 'GET', '/admin/limits')).body).toEqual(before.body);
  });

  test('refuses a malformed userId with 400', async ({ one }) => {
    expectProblem(await admin(one.app, 'PUT', '/admin/blocklist/bad%20id', { ttlSeconds: 5 }), 400, 'invalid_request');
    expectProblem(await admin(one.app, 'DELETE', '/admin/blocklist/bad%20id'), 400, 'invalid_request');
  });
});

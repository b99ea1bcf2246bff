/**
 * Rate limits enforced exactly under parallel load: with limit N, N requests pass and the next
 * is refused (per buyer, per address, per sale), others are unaffected; dry-run refuses nobody
 * and counts; a change through one instance is enforced by another within 1 s.
 */
import { upstashRedis } from '../../src/limits/upstash-redis.js';
import { DEFAULT_POLICIES } from '../../src/limits/policies.js';
import { keys } from '../../src/redis/keys.js';
import type { RedisPort } from '../../src/redis/port.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../fixtures.js';
import {
  admin,
  buyer,
  call,
  createSale,
  expectProblem,
  pay,
  placeOrder,
  startGateway,
  waitFor,
  type App,
  type Gateway,
} from '../helpers.js';

let scriptCalls = 0;

/**
 * `one` is the gateway fixture; `counted` a second instance whose script calls are counted;
 * `two` a third. `setPolicies` installs policies through `one` and waits for the others.
 */
const test = withFixtures.extend<{
  one: Gateway;
  counted: Gateway;
  two: Gateway;
  setPolicies: (policies: unknown) => Promise<void>;
}>({
  one: [
    async ({ gateway }, use) => {
      await use(gateway);
    },
    { scope: 'file' },
  ],
  counted: [
    async ({ one, redisUrl, policies }, use) => {
      const counting: RedisPort = {
        ...one.redis,
        evalsha: (...a) => {
          scriptCalls++;
          return one.redis.evalsha(...a);
        },
        eval: (...a) => {
          scriptCalls++;
          return one.redis.eval(...a);
        },
      };
      const gateway = await startGateway(redisUrl, { redis: counting }, policies);
      await use(gateway);
      await gateway.close();
    },
    { scope: 'file' },
  ],
  two: [
    async ({ redisUrl, policies }, use) => {
      const gateway = await startGateway(redisUrl, {}, policies);
      await use(gateway);
      await gateway.close();
    },
    { scope: 'file' },
  ],
  setPolicies: [
    async ({ one, counted, two }, use) => {
      await use(async (policies) => {
        const res = await admin(one.app, 'PUT', '/admin/limits', { policies });
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        for (const app of [two, counted]) {
          const deadline = Date.now() + 1000;
          while (app.limits.version !== res.body.version) {
            if (Date.now() > deadline) throw new Error('not applied within 1 s');
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      });
    },
    { scope: 'file' },
  ],
});
usePrivateRedis();
test.scoped({ policies: [DEFAULT_POLICIES, { scope: 'file' }] });

// a day: fixed windows start on clock boundaries, and a test must not straddle one
const DAY = 86_400;
const win = (limit: number, windowSeconds = DAY, dryRun = false) => ({ limit, windowSeconds, dryRun });
const base = { orders: { perUser: win(1000) }, payments: { perUser: win(1000) } };
const order = (app: App, saleId: string, jwt: string, address?: string) =>
  call(app, 'POST', `/v1/sales/${saleId}/orders`, {
    token: jwt,
    body: {},
    headers: address ? { 'X-Test-Address': address } : {},
  });

describe('rate limits', () => {
  test('per buyer: with limit 5, 5 parallel orders pass and the 6th is 429 with Retry-After and RateLimit headers; another buyer is unaffected', async ({
    one,
    two,
    setPolicies,
  }) => {
    await setPolicies({ ...base, orders: { perUser: win(5) } });
    const saleId = await createSale(one.app, { stock: 100, perUserLimit: 100 });
    const b = await buyer();
    const results = await Promise.all(Array.from({ length: 6 }, () => order(one.app, saleId, b.jwt)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    const refused = results.find((r) => r.status === 429)!;
    expectProblem(refused, 429, 'rate_limited');
    expect(refused.body.policy).toBe('orders.perUser');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.get('ratelimit-policy')).toBe(`"orders.perUser";q=5;w=${DAY}`);
    expect(refused.headers.get('ratelimit')).toMatch(/^"orders\.perUser";r=0;t=\d+$/);
    // the same buyer through another instance: the window is shared in Redis
    expectProblem(await order(two.app, saleId, b.jwt), 429, 'rate_limited');
    expect((await order(one.app, saleId, (await buyer()).jwt)).status).toBe(201);
  });

  test('per address: 3 buyers from one address pass, the 4th is refused; another address is unaffected', async ({
    one,
    setPolicies,
  }) => {
    await setPolicies({ ...base, orders: { perUser: win(1000), perAddress: win(3) } });
    const saleId = await createSale(one.app, { stock: 100 });
    const results = await Promise.all(
      Array.from({ length: 4 }, async () => order(one.app, saleId, (await buyer()).jwt, '203.0.113.7')),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 429)[0]!.body.policy).toBe('orders.perAddress');
    expect((await order(one.app, saleId, (await buyer()).jwt, '203.0.113.8')).status).toBe(201);
  });

  test('per sale: with 5 admissions per second, 5 orders of one second pass and the 6th is refused; another sale is unaffected', async ({
    one,
    setPolicies,
  }) => {
    await setPolicies({ ...base, orders: { perUser: win(1000), perSale: { perSecond: 5 } } });
    const saleId = await createSale(one.app, { stock: 100 });
    const other = await createSale(one.app, { stock: 100 });
    const jwts = await Promise.all(Array.from({ length: 6 }, async () => (await buyer()).jwt));
    // start at the top of a second so the burst stays within one window (Redis and this test share a clock)
    while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 10));
    const results = await Promise.all(jwts.map((jwt) => order(one.app, saleId, jwt)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(5);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body.policy).toBe('orders.perSale');
    expect(refused.headers.get('ratelimit-policy')).toBe('"orders.perSale";q=5;w=1');
    expect((await order(one.app, other, (await buyer()).jwt)).status).toBe(201);
  });

  test('payments per buyer: with limit 2, the 3rd payment is refused', async ({ one, setPolicies }) => {
    await setPolicies({ ...base, payments: { perUser: win(2) } });
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    const orders = await Promise.all([1, 2, 3].map(() => placeOrder(one.app, saleId, b.jwt)));
    const results = await Promise.all(orders.map((o) => pay(one.app, o.orderId, b.jwt, o.paymentToken)));
    expect(results.filter((r) => r.status === 202)).toHaveLength(2);
    const refused = results.find((r) => r.status === 429)!;
    expect(refused.body.policy).toBe('payments.perUser');
    // answered by the route like an order's refusal: the policy's headers and a retry time
    expect(refused.headers.get('ratelimit-policy')).toMatch(/^"payments\.perUser";q=2;w=\d+$/);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  test('a policy change that keeps a window keeps its counts: ops churn gives nobody a fresh quota', async ({
    one,
    setPolicies,
  }) => {
    await setPolicies({ ...base, orders: { perUser: win(2) } });
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    for (let i = 0; i < 2; i++) expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
    expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
    await setPolicies({ ...base, orders: { perUser: win(2) }, payments: { perUser: win(999) } }); // unrelated change
    expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
    // raised to 4: the refusal that reached Redis counted too (3 so far), so one more passes
    await setPolicies({ ...base, orders: { perUser: win(4) } });
    expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
    expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
  });

  test('behind one address (NAT), a buyer refused from memory takes no quota from the others, and is not counted against them', async ({
    one,
    setPolicies,
  }) => {
    await setPolicies({
      ...base,
      orders: { perUser: win(1), perAddress: win(3) },
      autoBlock: { refusals: 2, windowSeconds: 60, blockSeconds: 60 },
    });
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 10 });
    const greedy = await buyer();
    expect((await order(one.app, saleId, greedy.jwt, '192.0.2.50')).status).toBe(201); // address: 1 of 3
    for (let i = 0; i < 5; i++)
      expectProblem(await order(one.app, saleId, greedy.jwt, '192.0.2.50'), 429, 'rate_limited');
    // greedy's Redis refusal took one more address unit (2 of 3); its memory refusals took none
    const neighbour = await order(one.app, saleId, (await buyer()).jwt, '192.0.2.50');
    expect(neighbour.status, JSON.stringify(neighbour.body)).toBe(201);
    const refused = await order(one.app, saleId, (await buyer()).jwt, '192.0.2.50');
    expect(refused.body.policy, JSON.stringify(refused.body)).toBe('orders.perAddress');
    await one.limits.refresh();
    // greedy (6 refusals of its own) is blocked; the neighbour refused by the address limit is not
    expectProblem(await order(one.app, saleId, greedy.jwt, '192.0.2.51'), 403, 'blocked');
  });

  test('tries before a sale opens take nothing from the window: the first orders after the opening pass', async ({
    one,
    setPolicies,
  }) => {
    await setPolicies({ ...base, orders: { perUser: win(2) } });
    const opensAtMs = Date.now() + 1500;
    const saleId = await createSale(one.app, {
      stock: 10,
      perUserLimit: 10,
      opensAt: new Date(opensAtMs).toISOString(),
    });
    const b = await buyer();
    for (let i = 0; i < 5; i++) expectProblem(await order(one.app, saleId, b.jwt), 409, 'sale_not_open');
    while (Date.now() < opensAtMs + 100) await new Promise((r) => setTimeout(r, 50));
    expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
    expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
    expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
  });

  test('limit 0 refuses everything it covers', async ({ one, setPolicies }) => {
    await setPolicies({ ...base, orders: { perUser: win(0) } });
    const saleId = await createSale(one.app);
    expectProblem(await order(one.app, saleId, (await buyer()).jwt), 429, 'rate_limited');
  });

  test('a dry-run per-sale admission rate refuses nobody and counts per sale', async ({ one, setPolicies }) => {
    await setPolicies({ ...base, orders: { perUser: win(1000), perSale: { perSecond: 2, dryRun: true } } });
    const saleId = await createSale(one.app, { stock: 100 });
    while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 10));
    const results = await Promise.all(
      Array.from({ length: 5 }, async () => order(one.app, saleId, (await buyer()).jwt)),
    );
    expect(results.every((r) => r.status === 201)).toBe(true);
    expect((await admin(one.app, 'GET', `/admin/sales/${saleId}`)).body.admission).toEqual({ dryRunRefusals: 3 });
  });

  test('dry-run refuses nobody and counts the would-be refusals', async ({ one, setPolicies }) => {
    await setPolicies({ ...base, orders: { perUser: win(1, DAY, true) } });
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    for (let i = 0; i < 4; i++) expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
    expect((await admin(one.app, 'GET', '/admin/limits')).body.dryRunRefusals).toEqual({ 'orders.perUser': 3 });
  });

  test('a stricter limit set through one instance is enforced by another within 1 s; rollback restores the previous behaviour', async ({
    one,
    two,
    setPolicies,
  }) => {
    await setPolicies(base);
    const before = one.limits.version;
    const saleId = await createSale(one.app, { stock: 20, perUserLimit: 20 });
    await setPolicies({ ...base, orders: { perUser: win(0) } });
    expectProblem(await order(two.app, saleId, (await buyer()).jwt), 429, 'rate_limited');
    const back = await admin(one.app, 'POST', '/admin/limits/rollback', { version: before });
    await setPolicies(back.body.policies);
    expect((await order(two.app, saleId, (await buyer()).jwt)).status).toBe(201);
  });

  test('a buyer over its limit is refused from memory until the window resets: no Redis round trip', async ({
    counted,
    setPolicies,
  }) => {
    await setPolicies({ ...base, orders: { perUser: win(1) } });
    const saleId = await createSale(counted.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    expect((await order(counted.app, saleId, b.jwt)).status).toBe(201);
    expectProblem(await order(counted.app, saleId, b.jwt), 429, 'rate_limited');
    const before = scriptCalls;
    for (let i = 0; i < 10; i++) expectProblem(await order(counted.app, saleId, b.jwt), 429, 'rate_limited');
    expect(scriptCalls - before).toBe(0);
  });

  test('automatic blocking: 3 refusals within the window block the buyer (403) on every instance; the block expires', async ({
    one,
    two,
    setPolicies,
  }) => {
    await setPolicies({
      ...base,
      orders: { perUser: win(1) },
      autoBlock: { refusals: 3, windowSeconds: 60, blockSeconds: 2 },
    });
    const manual = await buyer();
    await admin(one.app, 'PUT', `/admin/blocklist/${manual.userId}`, { ttlSeconds: 3600, reason: 'manual' });
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    const bystander = await buyer();
    expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
    expect((await order(one.app, saleId, bystander.jwt)).status).toBe(201);
    // two refusals are not enough (one of them answered from memory)
    for (let i = 0; i < 2; i++) expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
    await one.limits.refresh();
    expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
    await one.limits.refresh(); // the third refusal is flushed: blocked
    expectProblem(await order(one.app, saleId, b.jwt), 403, 'blocked');
    const deadline = Date.now() + 1000;
    while ((await order(two.app, saleId, b.jwt)).status !== 403) {
      if (Date.now() > deadline) throw new Error('the other instance did not apply the block within 1 s');
      await new Promise((r) => setTimeout(r, 20));
    }
    expectProblem(await order(one.app, saleId, bystander.jwt), 429, 'rate_limited'); // limited, not blocked
    // the automatic block (2 s) ends on Redis time
    const blockedUntil = Number(await one.client.zscore(keys.blocklist, b.userId));
    await waitFor(async () => (await one.redis.timeMs()) > blockedUntil, { what: 'the block to end', everyMs: 50 });
    await one.limits.refresh();
    // the block has ended; the buyer is still over its rate limit
    expectProblem(await order(one.app, saleId, b.jwt), 429, 'rate_limited');
    // an automatic block never shortens a manual one
    expectProblem(await order(one.app, saleId, manual.jwt), 403, 'blocked');
  });

  test("@upstash/ratelimit's scripts run on stock Redis through the adapter, one round trip per call", async ({
    one,
  }) => {
    let calls = 0;
    const port: RedisPort = {
      ...one.redis,
      evalsha: (...a) => {
        calls++;
        return one.redis.evalsha(...a);
      },
      eval: (...a) => {
        calls++;
        return one.redis.eval(...a);
      },
    };
    const client = upstashRedis(port);
    const { Ratelimit } = await import('@upstash/ratelimit');
    const rl = new Ratelimit({
      redis: client as never,
      limiter: Ratelimit.fixedWindow(2, '60 s'),
      prefix: 'rg:rl:test',
      ephemeralCache: false,
      timeout: 0,
      analytics: false,
      enableProtection: false,
      enableTelemetry: false,
    });
    const id = `{u:${(await buyer()).userId}}`;
    const results = [];
    for (let i = 0; i < 3; i++) {
      const before = calls;
      results.push((await rl.limit(id)).success);
      expect(calls - before).toBe(1);
    }
    expect(results).toEqual([true, true, false]);
  });
});

describe('the others window (routes that name no sale)', () => {
  test('with limit 3, the 4th poll is 429 others.perUser; orders and payments are not counted by it', async ({
    one,
    setPolicies,
  }) => {
    await setPolicies({ ...base, others: { perUser: win(3) } });
    const saleId = await createSale(one.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    const placed = await placeOrder(one.app, saleId, b.jwt);
    const paid = await pay(one.app, placed.orderId, b.jwt, placed.paymentToken);
    expect(paid.status).toBe(202);
    const polls = [];
    for (let i = 0; i < 4; i++)
      polls.push(await call(one.app, 'GET', `/v1/payments/${paid.body.paymentId}`, { token: b.jwt }));
    expect(polls.slice(0, 3).map((r) => r.status)).toEqual([200, 200, 200]);
    expectProblem(polls[3]!, 429, 'rate_limited');
    expect(polls[3]!.body.policy).toBe('others.perUser');
    expect(polls[3]!.headers.get('ratelimit-policy')).toBe(`"others.perUser";q=3;w=${DAY}`);
    // the order path is not behind this window
    expect((await order(one.app, saleId, b.jwt)).status).toBe(201);
  });

  test('absent, it costs no round trip; dry-run counts would-be refusals and refuses nobody', async ({
    one,
    counted,
    setPolicies,
  }) => {
    await setPolicies(base);
    const saleId = await createSale(counted.app, { stock: 10, perUserLimit: 10 });
    const b = await buyer();
    const placed = await placeOrder(counted.app, saleId, b.jwt);
    // loads readOrder into Redis's script cache (a first call may fall back to EVAL)
    await call(counted.app, 'GET', `/v1/orders/${placed.orderId}`, { token: b.jwt });
    const before = scriptCalls;
    expect((await call(counted.app, 'GET', `/v1/orders/${placed.orderId}`, { token: b.jwt })).status).toBe(200);
    expect(scriptCalls - before).toBe(1); // readOrder only
    await setPolicies({ ...base, others: { perUser: win(1, DAY, true) } });
    for (let i = 0; i < 3; i++)
      expect((await call(one.app, 'GET', `/v1/orders/${placed.orderId}`, { token: b.jwt })).status).toBe(200);
    expect((await admin(one.app, 'GET', '/admin/limits')).body.dryRunRefusals).toEqual({ 'others.perUser': 2 });
  });
});

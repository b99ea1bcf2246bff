/**
 * End to end through HTTP with the payment worker running: real Redis, the ledger on PGlite
 * (and on Postgres when TEST_DATABASE_URL is set). After every test: money is conserved, no
 * order has two retained charges, no wallet is negative, and the sale's counters match its orders.
 */
import { afterEach } from 'vitest';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { HoldSweeper } from '../../src/orders/hold-sweeper.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { engines } from '../ledger/engines.js';
import { chargesMatchOrders } from './money.js';
import { keys } from '../../src/redis/keys.js';
import {
  admin,
  buyer,
  call,
  createSale,
  openRedis,
  parallel,
  pay,
  placeOrder,
  saleCounters,
  serveApp,
  startGateway,
  unique,
} from '../helpers.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../fixtures.js';

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
 * One ledger engine's checkout rig: the ledger, the gateway on it (also served over HTTP), a raw
 * client, the workers a test starts and the helpers the tests share; `checkAfterTest()` stops the
 * workers and checks the invariants, `close()` stops it all.
 */
async function checkoutRig(redisUrl: string, make: (typeof engines)[number][1]) {
  const sql = await make();
  const ledger = await Ledger.open(sql);
  const gateway = await startGateway(redisUrl, { ledger });
  const { app, redis } = gateway;
  const raw = openRedis(redisUrl);
  const served = await serveApp(app);
  const base = served.url;
  const workers: PaymentWorker[] = [];
  const startWorker = (options: Partial<ConstructorParameters<typeof PaymentWorker>[3]> = {}) => {
    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10, ...options });
    worker.start();
    workers.push(worker);
    return worker;
  };
  const touched = new Set<string>();
  const checkAfterTest = async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
    expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
    for (const saleId of touched) {
      await saleCounters(app, saleId, raw);
      await chargesMatchOrdersOf(saleId);
    }
    touched.clear();
  };

  const chargesMatchOrdersOf = chargesMatchOrders(ledger, raw);
  const sale = async (fields: Record<string, unknown> = {}) => {
    const saleId = await createSale(app, { price: 100, ...fields });
    touched.add(saleId);
    return saleId;
  };
  const credit = async (userId: string, amount: number) =>
    expect(
      (
        await admin(app, 'POST', `/admin/wallets/${userId}/credits`, {
          amount,
          currency: 'CNY',
          reference: unique('ref'),
        })
      ).status,
    ).toBe(201);
  const paymentOf = (jwt: string, paymentId: string) => call(app, 'GET', `/v1/payments/${paymentId}`, { token: jwt });
  const settled = (jwt: string, paymentId: string) =>
    waitFor(`payment ${paymentId}`, async () => {
      const res = await paymentOf(jwt, paymentId);
      return ['succeeded', 'failed', 'refunded'].includes(res.body.status) ? res.body : undefined;
    });
  const close = async () => {
    await served.close();
    await gateway.close();
    await raw.quit();
    await sql.close();
  };
  return { app, redis, ledger, raw, base, startWorker, sale, credit, settled, checkAfterTest, close };
}
type Rig = Awaited<ReturnType<typeof checkoutRig>>;

/**
 * `engine`: the ledger engine a describe block runs on (it scopes it); `rigs`: the rig of each
 * engine, opened once per file; `rig`: the test's engine's rig.
 */
const test = withFixtures.extend<{ engine: string; rigs: (engine: string) => Promise<Rig>; rig: Rig }>({
  engine: engines[0]![0],
  rigs: [
    async ({ redisUrl }, use) => {
      const opened = new Map<string, Promise<Rig>>();
      await use((engine) => {
        let rig = opened.get(engine);
        if (rig === undefined) {
          rig = checkoutRig(redisUrl, engines.find(([name]) => name === engine)![1]);
          opened.set(engine, rig);
        }
        return rig;
      });
      for (const rig of opened.values()) await (await rig).close();
    },
    { scope: 'file' },
  ],
  rig: async ({ engine, rigs }, use) => {
    await use(await rigs(engine));
  },
});
// workers read every sale's lanes: this file gets a Redis of its own
usePrivateRedis();

describe.each(engines)('checkout with the worker, ledger on %s', (engine) => {
  test.scoped({ engine });
  // after every test: money is conserved and the sale's counters match its orders
  afterEach<{ rig: Rig }>(async ({ rig }) => {
    await rig.checkAfterTest();
  });

  test('a credited buyer orders, pays with the wallet and sees succeeded; the order is paid and the stock sold', async ({
    rig: { app, raw, startWorker, sale, credit, settled },
  }) => {
    startWorker();
    const saleId = await sale({ stock: 3 });
    const b = await buyer();
    await credit(b.userId, 250);
    const order = await placeOrder(app, saleId, b.jwt, 2);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken);
    expect(await settled(b.jwt, payment.body.paymentId)).toMatchObject({
      status: 'succeeded',
      position: null,
      failure: null,
    });
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body).toMatchObject({
      status: 'paid',
      payment: { status: 'succeeded' },
    });
    expect((await call(app, 'GET', '/v1/wallet', { token: b.jwt })).body).toEqual({
      userId: b.userId,
      balances: { CNY: 50 },
    });
    expect(await saleCounters(app, saleId, raw)).toMatchObject({ sold: 2, held: 0, available: 1, queue: { depth: 0 } });
  });

  test('failure 1: 200 buyers each clicking pay 5 times at once -> 200 charges', async ({
    rig: { app, ledger, raw, base, startWorker, sale, credit, settled },
  }) => {
    startWorker();
    const saleId = await sale({ stock: 200, perUserLimit: 1 });
    const buyers = await Promise.all(Array.from({ length: 200 }, () => buyer()));
    await parallel(200, 50, (i) => credit(buyers[i]!.userId, 100));
    const orders = await parallel(200, 50, (i) => placeOrder(app, saleId, buyers[i]!.jwt));
    const post = async (i: number) => {
      const res = await fetch(`${base}/v1/orders/${orders[i]!.orderId}/payments`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${buyers[i]!.jwt}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ paymentToken: orders[i]!.paymentToken, method: 'wallet' }),
      });
      return (await res.json()) as { paymentId: string };
    };
    const clicks = await parallel(1000, 200, (i) => post(i % 200));
    // every click of one buyer answered the same payment
    for (let i = 0; i < 200; i++)
      expect(new Set(clicks.filter((_, j) => j % 200 === i).map((c) => c.paymentId)).size).toBe(1);
    for (let i = 0; i < 200; i++) await settled(buyers[i]!.jwt, clicks[i]!.paymentId);
    for (let i = 0; i < 200; i++) expect(await ledger.retainedCharges(orders[i]!.orderId)).toBe(1);
    const balances = await Promise.all(buyers.map((b) => ledger.balances(b.userId)));
    expect(balances.every((b) => b.CNY === 0)).toBe(true);
    expect(await saleCounters(app, saleId, raw)).toMatchObject({ sold: 200, held: 0 });
  });

  test('failure 2: a wallet payment clicked three times is debited once', async ({
    rig: { app, ledger, startWorker, sale, credit, settled },
  }) => {
    startWorker();
    const saleId = await sale();
    const b = await buyer();
    await credit(b.userId, 1000);
    const order = await placeOrder(app, saleId, b.jwt);
    const clicks = await Promise.all([1, 2, 3].map(() => pay(app, order.orderId, b.jwt, order.paymentToken)));
    expect(new Set(clicks.map((c) => c.body.paymentId)).size).toBe(1);
    await settled(b.jwt, clicks[0]!.body.paymentId);
    // once more after it succeeded: still the one payment
    expect((await pay(app, order.orderId, b.jwt, order.paymentToken)).body.paymentId).toBe(clicks[0]!.body.paymentId);
    expect(await ledger.balances(b.userId)).toEqual({ CNY: 900 });
  });

  test('failure 3: a hold that passes while the payment waits does not cancel it; a payment failing after the hold releases the stock', async ({
    rig: { app, redis, raw, startWorker, sale, credit, settled },
  }) => {
    const saleId = await sale({ stock: 4, holdSeconds: 10 });
    const rich = await buyer();
    const poor = await buyer();
    await credit(rich.userId, 100);
    const richOrder = await placeOrder(app, saleId, rich.jwt);
    const poorOrder = await placeOrder(app, saleId, poor.jwt);
    const richPay = await pay(app, richOrder.orderId, rich.jwt, richOrder.paymentToken);
    const poorPay = await pay(app, poorOrder.orderId, poor.jwt, poorOrder.paymentToken);
    // no worker yet: both wait in the lane past their hold, and a sweep runs after it passed
    const deadline = Date.parse(richOrder.expiresAt);
    await waitFor('the hold to pass on Redis time', async () => ((await redis.timeMs()) > deadline ? true : undefined));
    await new HoldSweeper(redis, silentLogger).sweepOnce();
    expect((await call(app, 'GET', `/v1/orders/${richOrder.orderId}`, { token: rich.jwt })).body.status).toBe('paying');
    startWorker();
    expect(await settled(rich.jwt, richPay.body.paymentId)).toMatchObject({ status: 'succeeded' });
    expect(await settled(poor.jwt, poorPay.body.paymentId)).toMatchObject({
      status: 'failed',
      failure: { code: 'insufficient_funds' },
    });
    expect((await call(app, 'GET', `/v1/orders/${richOrder.orderId}`, { token: rich.jwt })).body.status).toBe('paid');
    expect((await call(app, 'GET', `/v1/orders/${poorOrder.orderId}`, { token: poor.jwt })).body.status).toBe(
      'expired',
    );
    expect(await saleCounters(app, saleId, raw)).toMatchObject({ sold: 1, held: 0, available: 3 });
  });

  test('insufficient funds fails the payment and holds the order again; after a top-up a new token pays', async ({
    rig: { app, ledger, startWorker, sale, credit, settled },
  }) => {
    startWorker();
    const saleId = await sale();
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const first = await pay(app, order.orderId, b.jwt, order.paymentToken);
    expect(await settled(b.jwt, first.body.paymentId)).toMatchObject({
      status: 'failed',
      failure: { code: 'insufficient_funds' },
    });
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('held');
    await credit(b.userId, 100);
    const token = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    const second = await pay(app, order.orderId, b.jwt, token.body.paymentToken);
    expect(await settled(b.jwt, second.body.paymentId)).toMatchObject({ status: 'succeeded' });
    expect(await ledger.balances(b.userId)).toEqual({ CNY: 0 });
  });

  test('FIFO: a lane is served in position order (funds for the first 3 of 5 payments)', async ({
    rig: { app, startWorker, sale, credit, settled },
  }) => {
    const saleId = await sale({ stock: 5, perUserLimit: 5 });
    const b = await buyer();
    await credit(b.userId, 300);
    const payments = [];
    for (let i = 0; i < 5; i++) {
      const order = await placeOrder(app, saleId, b.jwt);
      payments.push((await pay(app, order.orderId, b.jwt, order.paymentToken)).body);
    }
    expect(payments.map((p) => p.position)).toEqual([1, 2, 3, 4, 5]);
    startWorker({ batchSize: 1 });
    const outcomes = [];
    for (const p of payments) outcomes.push((await settled(b.jwt, p.paymentId)).status);
    expect(outcomes).toEqual(['succeeded', 'succeeded', 'succeeded', 'failed', 'failed']);
  });

  test('the priority lane is weighted 2:1 over the standard lane', async ({
    rig: { app, redis, ledger, sale, credit },
  }) => {
    const saleId = await sale({ stock: 60, perUserLimit: 60 });
    const std = await buyer();
    const vip = await buyer({ tier: 'priority' });
    await credit(std.userId, 100_000);
    await credit(vip.userId, 100_000);
    for (const b of [std, vip]) {
      for (let i = 0; i < 30; i++) {
        const order = await placeOrder(app, saleId, b.jwt);
        await pay(app, order.orderId, b.jwt, order.paymentToken);
      }
    }
    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), batchSize: 30 });
    expect(await worker.runOnce()).toBe(30);
    // 20 priority + 10 standard taken in the first round
    expect(await ledger.balances(vip.userId)).toEqual({ CNY: 100_000 - 20 * 100 });
    expect(await ledger.balances(std.userId)).toEqual({ CNY: 100_000 - 10 * 100 });
    while ((await worker.runOnce()) > 0);
  });

  test('a free order (price 0) is paid without a ledger transfer, and does not block other payments', async ({
    rig: { app, ledger, startWorker, sale, credit, settled },
  }) => {
    startWorker();
    const free = await sale({ price: 0 });
    const paid = await sale();
    const b = await buyer();
    await credit(b.userId, 100);
    const o1 = await placeOrder(app, free, b.jwt);
    const o2 = await placeOrder(app, paid, b.jwt);
    const p1 = await pay(app, o1.orderId, b.jwt, o1.paymentToken);
    const p2 = await pay(app, o2.orderId, b.jwt, o2.paymentToken);
    expect(await settled(b.jwt, p1.body.paymentId)).toMatchObject({ status: 'succeeded', amount: 0 });
    expect(await settled(b.jwt, p2.body.paymentId)).toMatchObject({ status: 'succeeded' });
    expect(await ledger.balances(b.userId)).toEqual({ CNY: 0 });
  });

  test('priority backlogs of several sales do not starve the standard lane (COUNT is per stream)', async ({
    rig: { app, redis, ledger, sale, credit },
  }) => {
    const sales = await Promise.all([1, 2, 3].map(() => sale({ stock: 40, perUserLimit: 40 })));
    const std = await buyer();
    const vip = await buyer({ tier: 'priority' });
    await credit(std.userId, 100_000);
    await credit(vip.userId, 100_000);
    for (const saleId of sales) {
      for (let i = 0; i < 20; i++) {
        const o = await placeOrder(app, saleId, vip.jwt);
        await pay(app, o.orderId, vip.jwt, o.paymentToken);
      }
      for (let i = 0; i < 5; i++) {
        const o = await placeOrder(app, saleId, std.jwt);
        await pay(app, o.orderId, std.jwt, o.paymentToken);
      }
    }
    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), batchSize: 30 });
    expect(await worker.runOnce()).toBe(30);
    expect(await ledger.balances(vip.userId)).toEqual({ CNY: 100_000 - 20 * 100 });
    expect(await ledger.balances(std.userId)).toEqual({ CNY: 100_000 - 10 * 100 });
    while ((await worker.runOnce()) > 0);
  });

  test('a consumer group lost to a flush or failover is created again', async ({
    rig: { app, ledger, raw, startWorker, sale, credit, settled },
  }) => {
    const worker = startWorker();
    const saleId = await sale();
    const b = await buyer();
    await credit(b.userId, 1000);
    const o1 = await placeOrder(app, saleId, b.jwt);
    await settled(b.jwt, (await pay(app, o1.orderId, b.jwt, o1.paymentToken)).body.paymentId);
    await raw.xgroup('DESTROY', keys.lane(saleId, 'standard'), 'workers');
    const o2 = await placeOrder(app, saleId, b.jwt);
    const p2 = await pay(app, o2.orderId, b.jwt, o2.paymentToken);
    // the group is created again at the stream's start... and only new entries are served:
    // entries already acknowledged before the loss are served again and answered by the ledger
    expect(await settled(b.jwt, p2.body.paymentId)).toMatchObject({ status: 'succeeded' });
    expect(worker).toBeDefined();
    expect(await ledger.balances(b.userId)).toEqual({ CNY: 800 });
  });

  test('wallet routes: credits are idempotent by reference, a reused reference for another amount is 422, bad input is 400', async ({
    rig: { app, ledger },
  }) => {
    const userId = unique('u');
    const body = { amount: 500, currency: 'CNY', reference: 'topup-42' };
    expect(await admin(app, 'POST', `/admin/wallets/${userId}/credits`, body)).toMatchObject({
      status: 201,
      body: { userId, currency: 'CNY', balance: 500 },
    });
    expect(await admin(app, 'POST', `/admin/wallets/${userId}/credits`, body)).toMatchObject({
      status: 200,
      body: { balance: 500 },
    });
    expect((await admin(app, 'POST', `/admin/wallets/${userId}/credits`, { ...body, amount: 501 })).body.code).toBe(
      'idempotency_key_reused',
    );
    for (const bad of [
      { ...body, amount: -1 },
      { ...body, amount: 1.5 },
      { ...body, currency: 'yuan' },
      { ...body, reference: '' },
      { ...body, extra: 1 },
    ]) {
      expect((await admin(app, 'POST', `/admin/wallets/${userId}/credits`, bad)).status).toBe(400);
    }
    expect((await admin(app, 'POST', '/admin/wallets/bad%20user/credits', body)).status).toBe(400);
    expect(
      (await call(app, 'POST', `/admin/wallets/${userId}/credits`, { body, token: (await buyer()).jwt })).status,
    ).toBe(401);
    expect(await ledger.balances(userId)).toEqual({ CNY: 500 });
    const b = await buyer();
    expect((await call(app, 'GET', '/v1/wallet', { token: b.jwt })).body).toEqual({ userId: b.userId, balances: {} });
    expect((await call(app, 'GET', '/v1/wallet')).status).toBe(401);
  });
});

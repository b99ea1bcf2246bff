/**
 * Redis faults, with the ledger as the truth. A real redis-server with its AOF (fsync always) is
 * SIGKILLed mid-sale and restarted; then it is made to lose its last second (the AOF copied
 * aside earlier is put back before the restart: what `everysec` loses on a power cut, and what a
 * failover to a lagging replica loses). Invariants checked after each: sold <= stock; every paid
 * order has exactly one kept charge and every kept charge a paid order; no payment the ledger
 * charged is missing (it answers its status, never 404); no token leads to a second charge;
 * wallets balance (money conserved, none negative).
 */
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { Reconciler } from '../../src/payments/reconciler.js';
import { keys } from '../../src/redis/keys.js';
import { promMetrics } from '../../src/runtime/node/adapters/metrics.js';
import { pgliteSql } from '../../src/runtime/node/adapters/sql.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { chargesMatchOrders } from '../worker/money.js';
import {
  admin,
  buyer,
  call,
  createSale,
  pay,
  placeOrder,
  openRedis,
  saleCounters,
  startGateway,
  unique,
} from '../helpers.js';
import { test as withFixtures, describe, expect } from '../fixtures.js';
import { killableRedis } from './redis-server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

type Buyer = Awaited<ReturnType<typeof buyer>>;

/**
 * The gateway, a payment worker and the reconciler on the killable Redis, the ledger on PGlite, a
 * raw client, and the helpers the tests share; `close()` stops them.
 */
async function lossRig(url: string) {
  const sql = await pgliteSql();
  const ledger = await Ledger.open(sql);
  const gateway = await startGateway(url, { ledger, metrics: promMetrics() });
  const { app, redis, client } = gateway;
  client.on('error', () => {}); // refused while Redis is down: the requests answer 503
  const raw = openRedis(url);
  raw.on('error', () => {});
  const worker = new PaymentWorker(redis, ledger, silentLogger, {
    consumer: unique('w'),
    idleMs: 10,
    visibilityTimeoutMs: 2000,
  });
  worker.start();
  const reconciler = new Reconciler(redis, ledger, silentLogger, { lostAfterMs: 500 });
  const chargesMatch = chargesMatchOrders(ledger, raw);

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
  const paymentOf = (b: Buyer, paymentId: string) => call(app, 'GET', `/v1/payments/${paymentId}`, { token: b.jwt });
  const settled = (b: Buyer, paymentId: string) =>
    waitFor(`payment ${paymentId}`, async () => {
      const res = await paymentOf(b, paymentId);
      return ['succeeded', 'failed', 'refunded'].includes(res.body?.status) ? res.body : undefined;
    });

  /** The invariants every fault test ends on. */
  async function invariants(saleId: string, buyers: Buyer[]) {
    const s = await saleCounters(app, saleId, raw); // available + held + sold = stock; counters = orders
    expect(s.sold).toBeLessThanOrEqual(s.stock);
    await chargesMatch(saleId); // every paid order: exactly one kept charge; every other order: none
    const charges = await ledger.saleCharges(saleId);
    const kept = Object.entries(charges.keptByOrder).filter(([, n]) => n > 0);
    expect(kept.every(([, n]) => n === 1)).toBe(true);
    expect(kept.length).toBe(s.sold); // every kept charge has a paid order (one unit each here)
    expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
    for (const b of buyers) expect((await ledger.balances(b.userId)).CNY ?? 0).toBeGreaterThanOrEqual(0);
  }

  const close = async () => {
    await worker.stop();
    await raw.quit();
    await gateway.close();
    await ledger.close();
  };
  return { app, redis, ledger, raw, worker, reconciler, credit, paymentOf, settled, invariants, close };
}

/** `server`: the redis-server the tests kill; `rig`: everything else, on it. */
const test = withFixtures.extend<{
  server: Awaited<ReturnType<typeof killableRedis>>;
  rig: Awaited<ReturnType<typeof lossRig>>;
}>({
  server: [
    async ({}, use) => {
      const server = await killableRedis();
      await use(server);
      await server.stop();
    },
    { scope: 'file' },
  ],
  rig: [
    async ({ server }, use) => {
      const rig = await lossRig(server.url);
      await use(rig);
      await rig.close();
    },
    { scope: 'file' },
  ],
});

describe('Redis faults: the ledger is the truth', () => {
  test('redis SIGKILL mid-sale and a restart on its AOF: nothing acknowledged is lost, no token charges twice', async ({
    rig: { app, ledger, credit, settled, invariants },
    server,
  }) => {
    const saleId = await createSale(app, { stock: 40, price: 100, perUserLimit: 1 });
    const buyers = await Promise.all(Array.from({ length: 40 }, () => buyer()));
    for (const b of buyers) await credit(b.userId, 100);
    const acknowledged: { b: Buyer; orderId: string; paymentId: string }[] = [];
    let killed = false;
    const attempts = buyers.map(async (b, i) => {
      await sleep(i * 10);
      for (let tries = 0; tries < 200; tries++) {
        const order = await call(app, 'POST', `/v1/sales/${saleId}/orders`, {
          token: b.jwt,
          body: { quantity: 1 },
          headers: { 'Idempotency-Key': `k-${i}` },
        });
        expect(order.status === 201 || order.status === 503).toBe(true);
        if (order.status !== 201) {
          await sleep(50);
          continue;
        }
        for (let p = 0; p < 200; p++) {
          const res = await pay(app, order.body.orderId, b.jwt, order.body.paymentToken);
          expect([202, 503]).toContain(res.status);
          if (res.status === 202)
            return acknowledged.push({ b, orderId: order.body.orderId, paymentId: res.body.paymentId });
          await sleep(50);
        }
      }
      return undefined;
    });
    await sleep(150);
    await server.kill();
    killed = true;
    await sleep(300);
    await server.start();
    await Promise.all(attempts);
    expect(killed).toBe(true);
    expect(acknowledged.length).toBe(40);
    for (const a of acknowledged) expect(await settled(a.b, a.paymentId)).toMatchObject({ status: 'succeeded' });
    // the same token again: the one payment, never a second charge
    await invariants(saleId, buyers);
    for (const b of buyers) expect(await ledger.balances(b.userId)).toEqual({ CNY: 0 });
  });

  test('redis loses its last second: the reconciler restores every charged order and payment, refuses replayed tokens, and refunds an oversell', async ({
    rig: { app, redis, ledger, raw, reconciler, credit, paymentOf, settled, invariants },
    server,
  }) => {
    const saleId = await createSale(app, { stock: 22, price: 100, perUserLimit: 1 });
    const early = await Promise.all(Array.from({ length: 10 }, () => buyer()));
    const late = await Promise.all(Array.from({ length: 10 }, () => buyer()));
    const heldEarly = await Promise.all(Array.from({ length: 2 }, () => buyer())); // ordered before, paid after
    const newcomers = await Promise.all(Array.from({ length: 5 }, () => buyer())); // buy the seats Redis forgot
    const all = [...early, ...late, ...heldEarly, ...newcomers];
    for (const b of all) await credit(b.userId, 100);

    const buy = async (b: Buyer) => {
      const order = await placeOrder(app, saleId, b.jwt);
      const res = await pay(app, order.orderId, b.jwt, order.paymentToken);
      expect(res.status).toBe(202);
      return { order, paymentId: res.body.paymentId as string };
    };
    for (const b of early) await settled(b, (await buy(b)).paymentId);
    const heldOrders = await Promise.all(heldEarly.map((b) => placeOrder(app, saleId, b.jwt)));
    await reconciler.restarted(); // remembers this Redis's run id
    server.snapshotAof(); // the disk as it will be after the crash: the last second starts here

    const lost = [];
    for (const b of late) lost.push({ b, ...(await buy(b)) });
    const lostPays = await Promise.all(
      heldEarly.map((b, i) => pay(app, heldOrders[i]!.orderId, b.jwt, heldOrders[i]!.paymentToken)),
    );
    for (const { b, paymentId } of lost) await settled(b, paymentId);
    for (const [i, b] of heldEarly.entries()) await settled(b, lostPays[i]!.body.paymentId);
    // the ledger charged all 22; Redis now loses the last 12 of them
    await server.kill();
    server.restoreAof();
    await server.start();
    // the gateway's own connection back (it refuses, 503, until it has reconnected)
    await waitFor('redis back', async () =>
      (await redis.ping()) === 'PONG' && (await raw.ping()) === 'PONG' ? true : undefined,
    );
    expect(await reconciler.restarted()).toBe(true);
    expect((await paymentOf(lost[0]!.b, lost[0]!.paymentId)).status).toBe(404); // what the reconciler repairs

    // before any reconciling: one early holder pays again with its token (accepted again by
    // Redis): the ledger already charged that order, so it is refunded, never insufficient_funds
    const again = await pay(app, heldOrders[0]!.orderId, heldEarly[0]!.jwt, heldOrders[0]!.paymentToken);
    expect(again.status).toBe(202);
    expect(await settled(heldEarly[0]!, again.body.paymentId)).toMatchObject({ status: 'refunded' });
    // and newcomers buy seats Redis forgot: 5 charges more than the sale's 22 seats
    // (a gateway that saw the sale sold out refuses from memory for about a second: wait it out)
    await waitFor('the forgotten seats on sale again', async () => {
      const res = await call(app, 'GET', `/v1/sales/${saleId}`);
      return res.body.available > 0 &&
        (await call(app, 'POST', `/v1/sales/${saleId}/orders`, { body: { quantity: 1 } })).status === 401
        ? true
        : undefined;
    });
    const extra = [];
    for (const b of newcomers) extra.push({ b, ...(await buy(b)) });
    for (const { b, paymentId } of extra) expect(await settled(b, paymentId)).toMatchObject({ status: 'succeeded' });

    const report = await reconciler.runOnce();
    expect(report.oversold).toEqual({ [saleId]: 5 });
    // every charge the ledger kept is a paid order and a readable succeeded payment
    for (const { b, paymentId, order } of lost) {
      expect((await paymentOf(b, paymentId)).body).toMatchObject({ status: 'succeeded' });
      expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body).toMatchObject({
        status: 'paid',
      });
      // a replayed token never charges again
      const replay = await pay(app, order.orderId, b.jwt, order.paymentToken);
      expect(replay.status).toBe(409);
    }
    for (const [i, b] of heldEarly.entries()) {
      expect((await call(app, 'GET', `/v1/orders/${heldOrders[i]!.orderId}`, { token: b.jwt })).body).toMatchObject({
        status: 'paid',
      });
    }
    // the documented rule: the latest charges (the newcomers') are refunded, the alarm is up
    for (const { b, paymentId } of extra)
      expect((await paymentOf(b, paymentId)).body).toMatchObject({ status: 'refunded' });
    for (const b of newcomers) expect(await ledger.balances(b.userId)).toEqual({ CNY: 100 });
    expect(await raw.hgetall(keys.oversell(saleId))).toMatchObject({ charges: '27', seats: '22', refunded: '5' });
    const metrics = await (await app.request('/metrics')).text();
    expect(metrics).toContain(`rushgate_oversell_alarm{sale="${saleId}"} 1`);
    for (const b of [...early, ...late, ...heldEarly]) expect(await ledger.balances(b.userId)).toEqual({ CNY: 0 });
    await invariants(saleId, all);
    expect(await saleCounters(app, saleId, raw)).toMatchObject({ sold: 22, held: 0 });
    // a second pass finds nothing to do
    expect(await reconciler.runOnce()).toMatchObject({
      ordersRepaired: 0,
      paymentsRepaired: 0,
      requeued: 0,
      oversold: {},
    });
  });

  test('a queued payment whose lane entry was lost is put back in its lane and charged once', async ({
    rig: { app, ledger, raw, worker, reconciler, credit, settled, invariants },
  }) => {
    await worker.stop();
    const saleId = await createSale(app, { stock: 5, price: 100 });
    const b = await buyer();
    await credit(b.userId, 100);
    const order = await placeOrder(app, saleId, b.jwt);
    const res = await pay(app, order.orderId, b.jwt, order.paymentToken);
    expect(res.status).toBe(202);
    // the lane loses the entry (a failover, a lost key)
    await raw.del(keys.lane(saleId, 'standard'));
    await sleep(600);
    expect((await reconciler.runOnce()).requeued).toBe(1);
    worker.start();
    expect(await settled(b, res.body.paymentId)).toMatchObject({ status: 'succeeded' });
    expect(await ledger.balances(b.userId)).toEqual({ CNY: 0 });
    await invariants(saleId, [b]);
  });
});

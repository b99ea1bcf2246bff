/**
 * Channels that time out, answer late, fail their queries, duplicate or lose notifications.
 * Invariants: a payment its channel never answers stays `unknown` (never failed) with its stock
 * held, is queried again with a growing backoff, and is marked for review past its deadline
 * (visible in /metrics); a late success is found by the periodic query even when every
 * notification is lost and earlier queries failed; every paid order has exactly one kept charge
 * and every kept charge a paid order; sold <= stock; money is conserved.
 */
import type { Redis } from 'ioredis';
import { afterEach } from 'vitest';
import type { ChargeResult, PaymentChannel } from '../../src/channels/channel.js';
import { DEFAULT_SIMULATOR, SimulatedChannel } from '../../src/channels/simulated-channel.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { keys } from '../../src/redis/keys.js';
import { paymentField } from '../../src/redis/records.js';
import { nodeHmacSha256 } from '../../src/runtime/node/adapters/crypto.js';
import { promMetrics } from '../../src/runtime/node/adapters/metrics.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { chargesMatchOrders } from '../worker/money.js';
import {
  buyer,
  call,
  CHANNEL_SECRET,
  createSale,
  pay,
  placeOrder,
  saleCounters,
  unique,
  type App,
} from '../helpers.js';
import { test as withFixtures, describe, expect, useLedger, usePrivateRedis } from '../fixtures.js';

let appRef: App | undefined;
const notify = async (channel: string, body: string, signature: string) => {
  await appRef!.request(`/v1/channels/${channel}/notifications`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', 'Rushgate-Signature': signature },
  });
};
const fast = { ...DEFAULT_SIMULATOR, latencyMs: 5, timeoutMs: 100, paidLaterAfterMs: 300 };
const sim = new SimulatedChannel('alipay', nodeHmacSha256(CHANNEL_SECRET), notify, { ...fast });
/** The simulator behind queries that fail (throw) for a payment while `failQueries` has some left for it. */
const failQueries = new Map<string, number>();
const queries = new Map<string, number>();
const alipay: PaymentChannel = {
  name: 'alipay',
  charge: (r) => sim.charge(r),
  query: async (id): Promise<ChargeResult> => {
    queries.set(id, (queries.get(id) ?? 0) + 1);
    const left = failQueries.get(id) ?? 0;
    if (left > 0) {
      failQueries.set(id, left - 1);
      throw new Error('channel query timed out');
    }
    return sim.query(id);
  },
  verify: (b, s, n) => sim.verify(b, s, n),
};
const channels = new Map([['alipay', alipay]]);
const metrics = promMetrics();
const workers: PaymentWorker[] = [];

/** `notifying`: the channel posts to the file's app; `startWorker`: starts a payment worker, stopped after the test. */
const test = withFixtures.extend<{ notifying: undefined; startWorker: (reviewAfterMs?: number) => void }>({
  notifying: [
    async ({ app }, use) => {
      appRef = app;
      await use(undefined);
    },
    { scope: 'file', auto: true },
  ],
  startWorker: async ({ redis, ledger }, use) => {
    await use((reviewAfterMs = 60_000) => {
      const w = new PaymentWorker(redis, ledger, silentLogger, {
        consumer: unique('w'),
        idleMs: 10,
        // the idle back-off (up to 250 ms) would space the re-queries out: this file measures their own backoff
        maxIdleMs: 10,
        channels,
        unknownRecheckMs: 100,
        unknownPolicy: { baseMs: 100, maxMs: 400, reviewAfterMs },
      });
      w.start();
      workers.push(w);
    });
  },
});
usePrivateRedis();
useLedger({ channels, metrics });

const touched = new Set<string>();
afterEach<{ app: App; ledger: Ledger; raw: Redis }>(async ({ app, ledger, raw }) => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  sim.settings = { ...fast };
  sim.clearScript();
  failQueries.clear();
  expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
  for (const saleId of touched) {
    const s = await saleCounters(app, saleId, raw);
    expect(s.sold).toBeLessThanOrEqual(s.stock);
    await chargesMatchOrders(ledger, raw)(saleId);
  }
  touched.clear();
});
async function sale(app: App, stock = 50) {
  const saleId = await createSale(app, { price: 100, stock, perUserLimit: 5, holdSeconds: 120 });
  touched.add(saleId);
  return saleId;
}
async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
const status = async (app: App, jwt: string, paymentId: string) =>
  (await call(app, 'GET', `/v1/payments/${paymentId}`, { token: jwt })).body.status as string;
const gauge = async (app: App, name: string, saleId: string) => {
  const res = await app.request('/metrics');
  expect(res.status).toBe(200);
  const body = await res.text();
  const line = body.split('\n').find((l) => l.startsWith(`${name}{sale="${saleId}"}`));
  return line ? Number(line.split(' ').at(-1)) : undefined;
};

describe('channel faults', () => {
  test('a channel that never answers: unknown with stock held, queried with backoff, marked for review past its deadline; a late success still settles it', async ({
    app,
    ledger,
    raw,
    startWorker,
  }) => {
    sim.settings = { ...fast, lostNotificationRate: 1 };
    startWorker(1500);
    const saleId = await sale(app, 5);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    sim.script('hang');
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    const paymentId = payment.body.paymentId as string;
    await until('marked for review', async () =>
      (await raw.zscore(keys.review(saleId), paymentId)) !== null ? true : undefined,
    );
    expect(await status(app, b.jwt, paymentId)).toBe('unknown');
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('paying');
    expect(await saleCounters(app, saleId, raw)).toMatchObject({ held: 1, sold: 0 });
    // the re-queries back off: each next check is further away than the one before (up to maxMs)
    const checks = Number(await raw.hget(keys.payment(saleId, paymentId), paymentField.checks));
    expect(checks).toBeGreaterThanOrEqual(3);
    const next = Number(await raw.zscore(keys.unknown(saleId), paymentId));
    const now = Number((await raw.time())[0]) * 1000;
    expect(next - now).toBeLessThanOrEqual(400 + 1000);
    expect(await gauge(app, 'rushgate_payments_review', saleId)).toBe(1);
    // the buyer completes at the channel; its notification is lost: the periodic query finds it
    await sim.completeLater(paymentId, 'succeeded');
    await until('succeeded', async () => ((await status(app, b.jwt, paymentId)) === 'succeeded' ? true : undefined));
    expect(await raw.zscore(keys.review(saleId), paymentId)).toBeNull();
    expect(await gauge(app, 'rushgate_payments_review', saleId)).toBe(0);
    expect(await ledger.retainedCharges(order.orderId)).toBe(1);
  });

  test('a late success after failed queries (its notification lost) is found by the periodic query within the hold', async ({
    app,
    startWorker,
  }) => {
    sim.settings = { ...fast, lostNotificationRate: 1 };
    startWorker();
    const saleId = await sale(app, 5);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    sim.script('hang');
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    failQueries.set(payment.body.paymentId, 3);
    await until('three failed queries', async () =>
      (queries.get(payment.body.paymentId) ?? 0) >= 3 && failQueries.get(payment.body.paymentId) === 0
        ? true
        : undefined,
    );
    expect(await status(app, b.jwt, payment.body.paymentId)).toBe('unknown');
    await sim.completeLater(payment.body.paymentId, 'succeeded');
    await until('succeeded', async () =>
      (await status(app, b.jwt, payment.body.paymentId)) === 'succeeded' ? true : undefined,
    );
    expect(Date.now()).toBeLessThan(Date.parse(order.expiresAt));
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('paid');
  });

  test('timeouts, late answers, duplicated, reordered and lost notifications over 30 payments: one kept charge per paid order', async ({
    app,
    raw,
    startWorker,
  }) => {
    sim.settings = {
      ...fast,
      timeoutRate: 0.5,
      paidLaterRate: 0.7,
      lostNotificationRate: 0.5,
      duplicateNotifications: true,
      outOfOrder: true,
      declineRate: 0.1,
    };
    startWorker();
    const saleId = await sale(app, 30);
    const buyers = await Promise.all(Array.from({ length: 30 }, () => buyer()));
    const orders = await Promise.all(buyers.map((b) => placeOrder(app, saleId, b.jwt)));
    const payments = await Promise.all(
      buyers.map((b, i) => pay(app, orders[i]!.orderId, b.jwt, orders[i]!.paymentToken, 'alipay')),
    );
    // every payment ends with its channel's answer: none stays queued or processing, and a payment
    // the channel answered has that answer. Both sides are read together on each probe, so a
    // channel that answers after a first look (paidLater, its notification lost) is waited for
    await until('every payment agrees with its channel', async () => {
      for (const p of payments) {
        const id = p.body.paymentId as string;
        const [channel, s] = await Promise.all([
          sim.query(id),
          raw.hget(keys.payment(saleId, id), paymentField.status),
        ]);
        if (s === 'queued' || s === 'processing') return undefined;
        if (channel.status !== 'unknown' && channel.status !== s) return undefined;
      }
      return true;
    });
  });
});

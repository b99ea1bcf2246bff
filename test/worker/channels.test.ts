/**
 * Payment channels end to end, with the simulator: timeouts become `unknown` and are resolved by
 * query, lost / duplicate / out-of-order notifications, and a late success refunded.
 */
import { afterEach } from 'vitest';
import { signNotification } from '../../src/channels/channel.js';
import { DEFAULT_SIMULATOR, SimulatedChannel } from '../../src/channels/simulated-channel.js';
import { Ledger } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import { nodeHmacSha256 } from '../../src/runtime/node/adapters/crypto.js';
import { engines } from '../ledger/engines.js';
import { chargesMatchOrders } from './money.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import {
  buyer,
  call,
  CHANNEL_SECRET,
  createSale,
  expectProblem,
  pay,
  placeOrder,
  saleCounters,
  unique,
  waitFor,
  type App,
} from '../helpers.js';
import { test as withFixtures, describe, expect, usePrivateRedis } from '../fixtures.js';
import type { Redis } from 'ioredis';

let appRef: App | undefined;
let notifications = 0;
const notify = async (channel: string, body: string, signature: string) => {
  notifications++;
  await appRef!.request(`/v1/channels/${channel}/notifications`, {
    method: 'POST',
    body,
    headers: { 'Content-Type': 'application/json', 'Rushgate-Signature': signature },
  });
};
const fast = { ...DEFAULT_SIMULATOR, latencyMs: 5, timeoutMs: 150, paidLaterAfterMs: 300 };
const alipay = new SimulatedChannel('alipay', nodeHmacSha256(CHANNEL_SECRET), notify, { ...fast });
const wechat = new SimulatedChannel('wechat', nodeHmacSha256(CHANNEL_SECRET), notify, { ...fast });
const channels = new Map([
  ['alipay', alipay],
  ['wechat', wechat],
]);
const workers: PaymentWorker[] = [];

/** `notifying`: the channels post to the file's app; `startWorker`: starts a payment worker, stopped after the test. */
const test = withFixtures.extend<{ notifying: undefined; startWorker: (unknownRecheckMs?: number) => void }>({
  notifying: [
    async ({ app }, use) => {
      appRef = app;
      await use(undefined);
    },
    { scope: 'file', auto: true },
  ],
  startWorker: async ({ redis, ledger }, use) => {
    await use((unknownRecheckMs = 200) => {
      const w = new PaymentWorker(redis, ledger, silentLogger, {
        consumer: unique('w'),
        idleMs: 10,
        channels,
        unknownRecheckMs,
      });
      w.start();
      workers.push(w);
    });
  },
});
usePrivateRedis();
test.scoped({
  // Postgres when TEST_DATABASE_URL is set (real concurrency), else PGlite
  ledger: [
    async ({}, use) => {
      const sql = await engines.at(-1)![1]();
      await use(await Ledger.open(sql));
      await sql.close();
    },
    { scope: 'file' },
  ],
  appDeps: [
    async ({ ledger }, use) => {
      await use(ledger ? { ledger, channels } : { channels });
    },
    { scope: 'file' },
  ],
});

const touched = new Set<string>();
afterEach<{ app: App; ledger: Ledger; raw: Redis }>(async ({ app, ledger, raw }) => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  alipay.settings = { ...fast };
  wechat.settings = { ...fast };
  alipay.clearScript();
  wechat.clearScript();
  expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
  for (const saleId of touched) {
    await saleCounters(app, saleId, raw);
    await chargesMatchOrders(ledger, raw)(saleId);
  }
  touched.clear();
});

async function sale(app: App) {
  const saleId = await createSale(app, { price: 100, stock: 50, perUserLimit: 5 });
  touched.add(saleId);
  return saleId;
}

async function until(app: App, jwt: string, paymentId: string, wanted: string[]) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const res = await call(app, 'GET', `/v1/payments/${paymentId}`, { token: jwt });
    if (wanted.includes(res.body.status)) return res.body;
    if (Date.now() > deadline) throw new Error(`payment ${paymentId} is ${res.body.status}, not ${wanted.join('|')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('payment channels (simulated)', () => {
  test('a channel success is posted to the ledger: payment succeeded, order paid', async ({
    app,
    ledger,
    startWorker,
  }) => {
    startWorker();
    const saleId = await sale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    await until(app, b.jwt, payment.body.paymentId, ['succeeded']);
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('paid');
    expect(await ledger.retainedCharges(order.orderId)).toBe(1);
  });

  test('a decline fails the payment (card_declined) and holds the order again', async ({ app, startWorker }) => {
    startWorker();
    const saleId = await sale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    alipay.script('decline');
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    expect(await until(app, b.jwt, payment.body.paymentId, ['failed'])).toMatchObject({
      failure: { code: 'card_declined' },
    });
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('held');
  });

  test('failure 4: a timeout makes the payment unknown (never failed); the lost notification is resolved by query to succeeded', async ({
    app,
    startWorker,
  }) => {
    alipay.settings = { ...fast, lostNotificationRate: 1, paidLaterAfterMs: 1500 };
    startWorker();
    const saleId = await sale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    alipay.script('hang-then-pay');
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    await until(app, b.jwt, payment.body.paymentId, ['unknown']);
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('paying');
    await until(app, b.jwt, payment.body.paymentId, ['succeeded']);
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('paid');
  });

  test('failure 5: the buyer pays through a second channel after the first hung -> one retained charge, one automatic refund', async ({
    app,
    ledger,
    startWorker,
  }) => {
    startWorker();
    const saleId = await sale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    alipay.script('hang');
    const first = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    await until(app, b.jwt, first.body.paymentId, ['unknown']);
    // while the first is unknown, the order cannot be paid again
    const token = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    expectProblem(token, 409, 'payment_pending');
    // the buyer gives up at the first channel: the query now says it failed
    alipay.abandon(first.body.paymentId);
    expect(await until(app, b.jwt, first.body.paymentId, ['failed'])).toMatchObject({ failure: { code: 'abandoned' } });
    const fresh = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    const second = await pay(app, order.orderId, b.jwt, fresh.body.paymentToken, 'wechat');
    await until(app, b.jwt, second.body.paymentId, ['succeeded']);
    // ...then the first channel's charge completes after all, and says so
    await alipay.completeLater(first.body.paymentId, 'succeeded');
    await until(app, b.jwt, first.body.paymentId, ['refunded']);
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body).toMatchObject({
      status: 'paid',
      payment: { paymentId: second.body.paymentId },
    });
    expect(await ledger.retainedCharges(order.orderId)).toBe(1);
  });

  test('a notification alone resolves an unknown payment (the periodic query is minutes away)', async ({
    app,
    startWorker,
  }) => {
    startWorker(600_000);
    const saleId = await sale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    alipay.script('hang');
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    await until(app, b.jwt, payment.body.paymentId, ['unknown']);
    await alipay.completeLater(payment.body.paymentId, 'succeeded');
    await until(app, b.jwt, payment.body.paymentId, ['succeeded']);
  });

  test('duplicate and out-of-order notifications change nothing twice (20 payments)', async ({
    app,
    ledger,
    startWorker,
  }) => {
    alipay.settings = { ...fast, duplicateNotifications: true, outOfOrder: true };
    notifications = 0;
    startWorker();
    const saleId = await sale(app);
    const buyers = await Promise.all(Array.from({ length: 20 }, () => buyer()));
    const payments = await Promise.all(
      buyers.map(async (b) => {
        const order = await placeOrder(app, saleId, b.jwt);
        return { b, order, payment: (await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay')).body };
      }),
    );
    for (const p of payments) await until(app, p.b.jwt, p.payment.paymentId, ['succeeded']);
    // each payment's duplicate notification arrives late
    await waitFor(() => notifications >= 40, { what: 'the late duplicate notifications' });
    expect(notifications).toBe(40);
    for (const p of payments) {
      expect((await call(app, 'GET', `/v1/payments/${p.payment.paymentId}`, { token: p.b.jwt })).body.status).toBe(
        'succeeded',
      );
      expect(await ledger.retainedCharges(p.order.orderId)).toBe(1);
    }
  });

  test('the notification endpoint checks signature, age and event id', async ({ app }) => {
    const saleId = await sale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    const body = JSON.stringify({ eventId: unique('evt'), paymentId: payment.body.paymentId, status: 'succeeded' });
    const mac = nodeHmacSha256(CHANNEL_SECRET);
    const post = (sig: string | undefined, text = body, channel = 'alipay') =>
      call(app, 'POST', `/v1/channels/${channel}/notifications`, {
        rawBody: text,
        headers: { 'Content-Type': 'application/json', ...(sig ? { 'Rushgate-Signature': sig } : {}) },
      });
    expect((await post(await signNotification(mac, body, Date.now()))).body).toEqual({
      received: true,
      duplicate: false,
    });
    expect((await post(await signNotification(mac, body, Date.now()))).body).toEqual({
      received: true,
      duplicate: true,
    });
    expectProblem(await post(undefined), 401, 'unauthenticated');
    expectProblem(
      await post(await signNotification(nodeHmacSha256('x'.repeat(40)), body, Date.now())),
      401,
      'unauthenticated',
    );
    expectProblem(await post(await signNotification(mac, body, Date.now() - 10 * 60_000)), 401, 'unauthenticated');
    expectProblem(await post(await signNotification(mac, body, Date.now()), body, 'paypal'), 404, 'not_found');
    const stranger = JSON.stringify({ eventId: unique('evt'), paymentId: 'pay_nope', status: 'succeeded' });
    expectProblem(await post(await signNotification(mac, stranger, Date.now()), stranger), 404, 'not_found');
    for (const junk of [JSON.stringify({ hello: 1 }), 'null', '[]', '42']) {
      expectProblem(await post(await signNotification(mac, junk, Date.now()), junk), 401, 'unauthenticated');
    }
    expectProblem(
      await post(await signNotification(mac, '{not json', Date.now()), '{not json'),
      400,
      'invalid_request',
    );
  });
});

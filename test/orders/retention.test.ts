/**
 * Memory is bounded: ended orders (paid, expired, cancelled) and settled payments expire after
 * the record TTL (the sale's recordTtlMs, written by the reconciler from
 * RUSHGATE_RECORD_TTL_SECONDS; 7 days unset), while live ones (held, paying, queued) never do,
 * and Idempotency-Key records keep the contract's 24 h (25 h).
 */
import { silentLogger } from '../../src/logger.js';
import { Reconciler } from '../../src/payments/reconciler.js';
import { keys } from '../../src/redis/keys.js';
import { PaymentWorker } from '../../src/worker/payment-worker.js';
import { describe, expect, test, useLedger, usePrivateRedis } from '../fixtures.js';
import { admin, buyer, call, createSale, pay, placeOrder, unique } from '../helpers.js';

usePrivateRedis();
useLedger();
const DAY = 24 * 3600 * 1000;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('record TTLs', () => {
  test('a paid order and its payment expire after 7 days by default; a held order and a queued payment never; an Idempotency-Key record lives 25 h', async ({
    app,
    redis,
    raw,
    ledger,
  }) => {
    const saleId = await createSale(app, { stock: 5, price: 100 });
    const b = await buyer();
    await admin(app, 'POST', `/admin/wallets/${b.userId}/credits`, {
      amount: 100,
      currency: 'CNY',
      reference: unique('r'),
    });
    const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, {
      token: b.jwt,
      body: { quantity: 1 },
      headers: { 'Idempotency-Key': 'idem-1' },
    });
    expect(res.status).toBe(201);
    const order = res.body;
    expect(await raw.pttl(keys.order(saleId, order.orderId))).toBe(-1);
    const idemTtl = await raw.pttl(keys.idempotency(saleId, b.userId, 'idem-1'));
    expect(idemTtl).toBeGreaterThan(DAY);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken);
    expect(await raw.pttl(keys.payment(saleId, payment.body.paymentId))).toBe(-1);
    const worker = new PaymentWorker(redis, ledger, silentLogger, { consumer: unique('w'), idleMs: 10 });
    worker.start();
    try {
      await until('paid', async () =>
        (await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status === 'paid'
          ? true
          : undefined,
      );
    } finally {
      await worker.stop();
    }
    for (const key of [keys.order(saleId, order.orderId), keys.payment(saleId, payment.body.paymentId)]) {
      const ttl = await raw.pttl(key);
      expect(ttl).toBeGreaterThan(7 * DAY - 60_000);
      expect(ttl).toBeLessThanOrEqual(7 * DAY);
    }
  });

  test('with a short record TTL from the reconciler, a cancelled order vanishes while a held one stays; the sale keeps its counts', async ({
    app,
    redis,
    raw,
    ledger,
  }) => {
    const saleId = await createSale(app, { stock: 5, price: 100 });
    await new Reconciler(redis, ledger, silentLogger, { recordTtlMs: 1500 }).runOnce();
    expect(await raw.hget(keys.sale(saleId), 'recordTtlMs')).toBe('1500');
    const b = await buyer();
    const cancelled = await placeOrder(app, saleId, b.jwt);
    expect((await call(app, 'DELETE', `/v1/orders/${cancelled.orderId}`, { token: b.jwt })).status).toBe(200);
    const ttl = await raw.pttl(keys.order(saleId, cancelled.orderId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(1500);
    const held = await placeOrder(app, saleId, b.jwt);
    await until('the cancelled order gone', async () =>
      (await raw.exists(keys.order(saleId, cancelled.orderId))) === 0 ? true : undefined,
    );
    expect(await raw.pttl(keys.order(saleId, held.orderId))).toBe(-1);
    expect((await call(app, 'DELETE', `/v1/orders/${held.orderId}`, { token: b.jwt })).status).toBe(200);
    const s = (await admin(app, 'GET', `/admin/sales/${saleId}`)).body;
    expect({ held: s.held, sold: s.sold, available: s.available }).toEqual({ held: 0, sold: 0, available: 5 });
  });
});

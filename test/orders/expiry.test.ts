import { describe, expect, test as base } from '../fixtures.js';
import { silentLogger } from '../../src/logger.js';
import { HoldSweeper } from '../../src/orders/hold-sweeper.js';
import { PaymentStore } from '../../src/payments/payment-store.js';
import { keys } from '../../src/redis/keys.js';
import { orderField } from '../../src/redis/records.js';
import { buyer, call, createSale, expectProblem, pay, placeOrder, saleCounters, waitFor } from '../helpers.js';

const test = base.extend<{ payments: PaymentStore }>({
  payments: [
    async ({ redis }, use) => {
      await use(new PaymentStore(redis));
    },
    { scope: 'file' },
  ],
});

describe('hold expiry', () => {
  test('the sweep returns a passed hold’s stock; a paying order does not expire; a payment failing after the hold releases it', async ({
    app,
    redis,
    raw,
    payments,
  }) => {
    const sweeper = new HoldSweeper(redis, silentLogger, { intervalMs: 250 });
    sweeper.start();
    try {
      const saleId = await createSale(app, { stock: 5, holdSeconds: 10 });
      const held = await buyer();
      const paying = await buyer();
      const failing = await buyer();
      const heldOrder = await placeOrder(app, saleId, held.jwt, 2);
      const payingOrder = await placeOrder(app, saleId, paying.jwt);
      const failingOrder = await placeOrder(app, saleId, failing.jwt);
      expect((await pay(app, payingOrder.orderId, paying.jwt, payingOrder.paymentToken)).status).toBe(202);
      const failingPayment = await pay(app, failingOrder.orderId, failing.jwt, failingOrder.paymentToken);
      expect(await saleCounters(app, saleId)).toMatchObject({ held: 4, available: 1 });

      // the sweep (every 250 ms) expires the held order once its hold has passed on Redis time
      await waitFor(
        async () => (await raw.hget(keys.order(saleId, heldOrder.orderId), orderField.status)) === 'expired',
        {
          what: 'the sweep to expire the passed hold',
          timeoutMs: 20_000,
        },
      );

      const expired = await call(app, 'GET', `/v1/orders/${heldOrder.orderId}`, { token: held.jwt });
      expect(expired.body.status).toBe('expired');
      expect(await raw.hget(keys.order(saleId, heldOrder.orderId), orderField.status)).toBe('expired');
      // the two paying orders still hold their units
      expect(await saleCounters(app, saleId)).toMatchObject({ held: 2, available: 3 });
      expect((await call(app, 'GET', `/v1/orders/${payingOrder.orderId}`, { token: paying.jwt })).body.status).toBe(
        'paying',
      );
      // an expired order cannot be paid or re-tokened, and cancelling it answers it unchanged
      expectProblem(await pay(app, heldOrder.orderId, held.jwt, heldOrder.paymentToken), 409, 'order_closed');
      expectProblem(
        await call(app, 'POST', `/v1/orders/${heldOrder.orderId}/tokens`, { token: held.jwt }),
        409,
        'order_closed',
      );
      const cancel = await call(app, 'DELETE', `/v1/orders/${heldOrder.orderId}`, { token: held.jwt });
      expect(cancel.status).toBe(200);
      expect(cancel.body.status).toBe('expired');
      // its units are back in the buyer's limit
      await placeOrder(app, saleId, held.jwt, 2);

      // a payment that fails after the hold has passed expires the order at that moment
      const settled = await payments.settle(
        saleId,
        failingOrder.orderId,
        failingPayment.body.paymentId,
        'failed',
        'declined',
      );
      expect(settled).toEqual({ paymentStatus: 'failed', orderStatus: 'expired' });
      expect(await saleCounters(app, saleId)).toMatchObject({ held: 3, available: 2 });
    } finally {
      await sweeper.stop();
    }
  });

  test('sweepers running at once release every due order exactly once', async ({ app, redis, raw }) => {
    const saleId = await createSale(app, { stock: 60, perUserLimit: 1 });
    const orders = [];
    for (let i = 0; i < 50; i++) orders.push(await placeOrder(app, saleId, (await buyer()).jwt));
    // move every hold into the past (state set up directly; the sweep itself runs for real)
    const past = Date.now() - 1000;
    for (const o of orders) {
      await raw.hset(keys.order(saleId, o.orderId), orderField.expiresAt, past);
      await raw.zadd(keys.holds(saleId), past, o.orderId);
    }
    const sweepers = Array.from({ length: 4 }, () => new HoldSweeper(redis, silentLogger, { batchSize: 7 }));
    const counts = await Promise.all(sweepers.map((s) => s.sweepOnce()));
    const ours = await saleCounters(app, saleId);
    expect(ours).toMatchObject({ held: 0, available: 60 });
    // other test files' sales may also have been swept: only bound ours from below
    expect(counts.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(50);
    expect(await raw.zcard(keys.holds(saleId))).toBe(0);
    const units = await raw.hvals(keys.saleUsers(saleId));
    expect(units.every((u) => u === '0')).toBe(true);
  });
});

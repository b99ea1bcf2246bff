import { describe, expect, test as base } from '../fixtures.js';
import { PaymentStore } from '../../src/payments/payment-store.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import {
  admin,
  buyer,
  buyerJwt,
  call,
  unique,
  createSale,
  expectProblem,
  pay,
  placeOrder,
  saleCounters,
  testApp,
} from '../helpers.js';

const test = base.extend<{ payments: PaymentStore }>({
  payments: [
    async ({ redis }, use) => {
      await use(new PaymentStore(redis));
    },
    { scope: 'file' },
  ],
});

describe('POST /v1/sales/{saleId}/orders', () => {
  test('holds stock and returns a single-use payment token (201)', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5, holdSeconds: 600 });
    const b = await buyer();
    const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: { quantity: 2 } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ saleId, quantity: 2, amount: 76000, currency: 'CNY', status: 'held' });
    expect(res.body.orderId).toMatch(/^ord_[A-Za-z0-9_-]+$/);
    expect(res.body.paymentToken).toMatch(/^pt_/);
    expect(res.headers.get('location')).toBe(`/v1/orders/${res.body.orderId}`);
    const expiresIn = Date.parse(res.body.expiresAt) - Date.now();
    expect(expiresIn).toBeGreaterThan(595_000);
    expect(expiresIn).toBeLessThanOrEqual(601_000);
    expect(await saleCounters(app, saleId)).toMatchObject({ available: 3, held: 2, sold: 0 });
  });

  test('defaults quantity to 1, also with no body at all', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt });
    expect(res.status).toBe(201);
    expect(res.body.quantity).toBe(1);
  });

  test('answers 404 sale_not_found for an unknown sale', async ({ app }) => {
    const b = await buyer();
    expectProblem(
      await call(app, 'POST', '/v1/sales/no-such-sale-x/orders', { token: b.jwt, body: {} }),
      404,
      'sale_not_found',
    );
  });

  test('answers 409 sale_not_open with Retry-After before opensAt, holding nothing', async ({ app }) => {
    const opensAt = new Date(Date.now() + 120_000).toISOString();
    const saleId = await createSale(app, { opensAt });
    const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} });
    expectProblem(res, 409, 'sale_not_open');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(115);
    expect(retryAfter).toBeLessThanOrEqual(121);
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 0, available: 10 });
  });

  test('answers 409 sale_closed after closesAt', async ({ app }) => {
    const saleId = await createSale(app, { opensAt: '2020-01-01T00:00:00Z', closesAt: '2020-01-02T00:00:00Z' });
    expectProblem(
      await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }),
      409,
      'sale_closed',
    );
  });

  test('answers 409 sold_out when fewer units are left than asked for', async ({ app }) => {
    const saleId = await createSale(app, { stock: 3, perUserLimit: 5 });
    await placeOrder(app, saleId, (await buyer()).jwt, 2);
    const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, {
      token: (await buyer()).jwt,
      body: { quantity: 2 },
    });
    expectProblem(res, 409, 'sold_out');
    expect(res.body.available).toBe(1);
    await placeOrder(app, saleId, (await buyer()).jwt, 1);
    expect(await saleCounters(app, saleId)).toMatchObject({ available: 0, held: 3, status: 'sold_out' });
  });

  test('refuses a sold-out sale from memory, without asking Redis', async ({ redis }) => {
    let scriptCalls = 0;
    const counted = await testApp({
      redis: {
        ...redis,
        evalsha: (...args) => {
          scriptCalls++;
          return redis.evalsha(...args);
        },
      },
      // a window no slow, busy test machine can outlast
      saleCacheMs: 60_000,
    });
    const saleId = await createSale(counted.app, { stock: 1 });
    await placeOrder(counted.app, saleId, (await buyer()).jwt);
    const before = scriptCalls;
    const refusals = await Promise.all(
      Array.from({ length: 20 }, async () =>
        call(counted.app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }),
      ),
    );
    for (const r of refusals) expectProblem(r, 409, 'sold_out');
    expect(scriptCalls - before).toBe(0);
    // before the JWT is even read: the answer is the same for everyone, and public
    expectProblem(await call(counted.app, 'POST', `/v1/sales/${saleId}/orders`, { body: {} }), 409, 'sold_out');
    expectProblem(
      await call(counted.app, 'POST', `/v1/sales/${saleId}/orders`, { token: 'not.a.jwt', body: {} }),
      409,
      'sold_out',
    );
    // an open sale still wants a buyer first, and so does a malformed sale id
    const open = await createSale(counted.app, { stock: 5 });
    expectProblem(await call(counted.app, 'POST', `/v1/sales/${open}/orders`, { body: {} }), 401, 'unauthenticated');
    expectProblem(
      await call(counted.app, 'POST', `/v1/sales/${'x'.repeat(65)}/orders`, { body: {} }),
      401,
      'unauthenticated',
    );
  });

  test('keeps refusing a sold-out sale from memory, checking Redis about once a window, and sees stock come back', async ({
    redis,
  }) => {
    const calls = new Map<string, number>();
    const counted = await testApp({
      redis: {
        ...redis,
        evalsha: (sha, ...rest) => {
          calls.set(sha, (calls.get(sha) ?? 0) + 1);
          return redis.evalsha(sha, ...rest);
        },
      },
      // wide enough that a stalled, busy test machine does not outlast twice the window
      saleCacheMs: 500,
    });
    const saleId = await createSale(counted.app, { stock: 1 });
    const holder = await buyer();
    const held = await placeOrder(counted.app, saleId, holder.jwt);
    const orders = () => calls.get(scripts.createOrder.sha) ?? 0;
    const reads = () => calls.get(scripts.readSale.sha) ?? 0;
    const [ordersBefore, readsBefore] = [orders(), reads()];
    // 1.5 s of refusals (three windows): none asks the order script, a few background reads do
    const started = Date.now();
    while (Date.now() - started < 1500) {
      expectProblem(
        await call(counted.app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }),
        409,
        'sold_out',
      );
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(orders() - ordersBefore).toBe(0);
    expect(reads() - readsBefore).toBeGreaterThanOrEqual(1);
    expect(reads() - readsBefore).toBeLessThanOrEqual(6);
    // a cancellation gives the unit back: within about a window, it is sold again
    expect((await call(counted.app, 'DELETE', `/v1/orders/${held.orderId}`, { token: holder.jwt })).status).toBe(200);
    let status = 0;
    for (let i = 0; i < 300 && status !== 201; i++) {
      status = (await call(counted.app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }))
        .status;
      if (status !== 201) await new Promise((r) => setTimeout(r, 10));
    }
    expect(status).toBe(201);
  });

  test('answers 409 limit_exceeded past perUserLimit, counting held, paying and paid units', async ({
    app,
    payments,
  }) => {
    const saleId = await createSale(app, { stock: 10, perUserLimit: 3 });
    const b = await buyer();
    const first = await placeOrder(app, saleId, b.jwt, 2);
    const paying = await pay(app, first.orderId, b.jwt, first.paymentToken);
    expect(paying.status).toBe(202);
    await payments.settle(saleId, first.orderId, paying.body.paymentId, 'succeeded');
    const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: { quantity: 2 } });
    expectProblem(res, 409, 'limit_exceeded');
    expect(res.body.perUserLimit).toBe(3);
    await placeOrder(app, saleId, b.jwt, 1);
    expectProblem(
      await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: {} }),
      409,
      'limit_exceeded',
    );
    expect(await saleCounters(app, saleId)).toMatchObject({ sold: 2, held: 1, available: 7 });
  });

  test("gives cancelled units back to the buyer's limit", async ({ app }) => {
    const saleId = await createSale(app, { perUserLimit: 1 });
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    expect((await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: b.jwt })).status).toBe(200);
    await placeOrder(app, saleId, b.jwt);
  });
});

describe('Idempotency-Key on order creation', () => {
  test('replays the stored 201 with Idempotent-Replayed and creates nothing', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    const opts = { token: b.jwt, body: { quantity: 1 }, headers: { 'Idempotency-Key': 'checkout 42/A' } };
    const first = await call(app, 'POST', `/v1/sales/${saleId}/orders`, opts);
    const again = await call(app, 'POST', `/v1/sales/${saleId}/orders`, opts);
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 1 });
  });

  test('replays even after the sale sold out', async ({ app }) => {
    const saleId = await createSale(app, { stock: 1 });
    const b = await buyer();
    const opts = { token: b.jwt, body: {}, headers: { 'Idempotency-Key': 'k1' } };
    const first = await call(app, 'POST', `/v1/sales/${saleId}/orders`, opts);
    expectProblem(
      await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {} }),
      409,
      'sold_out',
    );
    const again = await call(app, 'POST', `/v1/sales/${saleId}/orders`, opts);
    expect(again.status).toBe(201);
    expect(again.body.orderId).toBe(first.body.orderId);
  });

  test('answers 422 idempotency_key_reused for the same key with another body', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    const headers = { 'Idempotency-Key': 'k2' };
    expect(
      (await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: { quantity: 1 }, headers })).status,
    ).toBe(201);
    expectProblem(
      await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: b.jwt, body: { quantity: 2 }, headers }),
      422,
      'idempotency_key_reused',
    );
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 1 });
  });

  test('scopes keys to the buyer: another buyer with the same key gets its own order', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5 });
    const headers = { 'Idempotency-Key': 'shared' };
    const a = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {}, headers });
    const b = await call(app, 'POST', `/v1/sales/${saleId}/orders`, { token: (await buyer()).jwt, body: {}, headers });
    expect(a.body.orderId).not.toBe(b.body.orderId);
    expect(b.headers.get('idempotent-replayed')).toBeNull();
  });

  test('answers 409 request_in_progress (with Retry-After) to a duplicate sent while the first runs', async ({
    app,
  }) => {
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    const opts = { token: b.jwt, body: {}, headers: { 'Idempotency-Key': 'k3' } };
    const results = await Promise.all([1, 2, 3].map(() => call(app, 'POST', `/v1/sales/${saleId}/orders`, opts)));
    const created = results.filter((r) => r.status === 201);
    const inProgress = results.filter((r) => r.status === 409);
    expect(created.length).toBeGreaterThanOrEqual(1);
    expect(inProgress.length).toBeGreaterThanOrEqual(1);
    for (const r of inProgress) {
      expectProblem(r, 409, 'request_in_progress');
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    }
    // invariant: one key, one order, however the duplicates were answered
    expect(new Set(created.map((r) => r.body.orderId)).size).toBe(1);
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 1 });
  });

  test('keys of two buyers never collide, whatever characters their ids hold', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5 });
    // "a" + "b:c" and "a:b" + "c" would collide if the parts were joined with ":"
    const a = { userId: unique('a'), key: 'b:c' };
    const ab = { userId: `${a.userId}:b`, key: 'c' };
    const first = await call(app, 'POST', `/v1/sales/${saleId}/orders`, {
      token: await buyerJwt(a.userId),
      body: {},
      headers: { 'Idempotency-Key': a.key },
    });
    const second = await call(app, 'POST', `/v1/sales/${saleId}/orders`, {
      token: await buyerJwt(ab.userId),
      body: {},
      headers: { 'Idempotency-Key': ab.key },
    });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.body.orderId).not.toBe(first.body.orderId);
  });

  test('the same key on two sales at once is not "in progress": keys are per sale', async ({ app }) => {
    const s1 = await createSale(app);
    const s2 = await createSale(app);
    const b = await buyer();
    const opts = { token: b.jwt, body: {}, headers: { 'Idempotency-Key': 'same' } };
    const [r1, r2] = await Promise.all([
      call(app, 'POST', `/v1/sales/${s1}/orders`, opts),
      call(app, 'POST', `/v1/sales/${s2}/orders`, opts),
    ]);
    expect([r1.status, r2.status]).toEqual([201, 201]);
  });

  test('refuses a malformed key with 400', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    for (const key of ['x'.repeat(256), 'tab\there', 'é']) {
      const res = await call(app, 'POST', `/v1/sales/${saleId}/orders`, {
        token: b.jwt,
        body: {},
        headers: { 'Idempotency-Key': key },
      });
      expectProblem(res, 400, 'invalid_request');
    }
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 0 });
  });
});

describe('GET /v1/orders/{orderId}', () => {
  test('shows the order, its latest payment, never its token', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const held = await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expect(held.status).toBe(200);
    expect(held.body).toEqual({
      orderId: order.orderId,
      saleId,
      quantity: 1,
      amount: 38000,
      currency: 'CNY',
      status: 'held',
      expiresAt: order.expiresAt,
      payment: null,
    });
    const paid = await pay(app, order.orderId, b.jwt, order.paymentToken);
    const paying = await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expect(paying.body).toMatchObject({
      status: 'paying',
      payment: { paymentId: paid.body.paymentId, status: 'queued' },
    });
    expect(JSON.stringify(paying.body)).not.toContain('pt_');
  });

  test("answers 404 not_found for another buyer's order, an unknown or a malformed id", async ({ app }) => {
    const saleId = await createSale(app);
    const owner = await buyer();
    const order = await placeOrder(app, saleId, owner.jwt);
    const other = await buyer();
    expectProblem(await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: other.jwt }), 404, 'not_found');
    const unknown = `${order.orderId.slice(0, 5)}${order.orderId[5] === 'A' ? 'B' : 'A'}${order.orderId.slice(6)}`;
    expectProblem(await call(app, 'GET', `/v1/orders/${unknown}`, { token: owner.jwt }), 404, 'not_found');
    expectProblem(await call(app, 'GET', '/v1/orders/not-an-order', { token: other.jwt }), 404, 'not_found');
  });

  test('requires a buyer JWT', async ({ app }) => {
    expectProblem(await call(app, 'GET', '/v1/orders/ord_x'), 401, 'unauthenticated');
  });
});

describe('DELETE /v1/orders/{orderId}', () => {
  test('cancels a held order and releases its stock; cancelling again answers it unchanged', async ({ app }) => {
    const saleId = await createSale(app, { stock: 4 });
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt, 2);
    const res = await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ orderId: order.orderId, status: 'cancelled', quantity: 2 });
    expect(await saleCounters(app, saleId)).toMatchObject({ available: 4, held: 0 });
    const again = await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(res.body);
    expect(await saleCounters(app, saleId)).toMatchObject({ available: 4, held: 0 });
    // its token no longer pays
    expectProblem(await pay(app, order.orderId, b.jwt, order.paymentToken), 409, 'order_closed');
  });

  test('answers 409 payment_pending while a payment is pending, 409 order_paid once paid', async ({
    app,
    payments,
  }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken);
    const pending = await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: b.jwt });
    expectProblem(pending, 409, 'payment_pending');
    expect(pending.body.paymentId).toBe(payment.body.paymentId);
    expect(Number(pending.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    await payments.settle(saleId, order.orderId, payment.body.paymentId, 'succeeded');
    expectProblem(await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: b.jwt }), 409, 'order_paid');
    expect(await saleCounters(app, saleId)).toMatchObject({ sold: 1, held: 0 });
  });

  test("answers 404 for another buyer's order and changes nothing", async ({ app }) => {
    const saleId = await createSale(app);
    const order = await placeOrder(app, saleId, (await buyer()).jwt);
    expectProblem(
      await call(app, 'DELETE', `/v1/orders/${order.orderId}`, { token: (await buyer()).jwt }),
      404,
      'not_found',
    );
    expect(await saleCounters(app, saleId)).toMatchObject({ held: 1 });
  });
});

describe('POST /v1/orders/{orderId}/tokens', () => {
  test('issues a fresh token; the previous unused one stops working', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const res = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({ paymentToken: expect.stringMatching(/^pt_/), expiresAt: order.expiresAt });
    expect(res.body.paymentToken).not.toBe(order.paymentToken);
    expectProblem(await pay(app, order.orderId, b.jwt, order.paymentToken), 403, 'token_invalid');
    expect((await pay(app, order.orderId, b.jwt, res.body.paymentToken)).status).toBe(202);
  });

  test('after a failed payment the order is held again and a new token pays', async ({ app, payments }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const first = await pay(app, order.orderId, b.jwt, order.paymentToken);
    await payments.settle(saleId, order.orderId, first.body.paymentId, 'failed', 'insufficient_funds');
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body).toMatchObject({
      status: 'held',
      payment: { paymentId: first.body.paymentId, status: 'failed' },
    });
    const failed = await call(app, 'GET', `/v1/payments/${first.body.paymentId}`, { token: b.jwt });
    expect(failed.body).toMatchObject({ status: 'failed', position: null, failure: { code: 'insufficient_funds' } });
    const fresh = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    const second = await pay(app, order.orderId, b.jwt, fresh.body.paymentToken);
    expect(second.status).toBe(202);
    expect(second.body.paymentId).not.toBe(first.body.paymentId);
  });

  test('answers 409 payment_pending, order_paid and order_closed', async ({ app, payments }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken);
    const path = `/v1/orders/${order.orderId}/tokens`;
    expectProblem(await call(app, 'POST', path, { token: b.jwt }), 409, 'payment_pending');
    await payments.settle(saleId, order.orderId, payment.body.paymentId, 'succeeded');
    expectProblem(await call(app, 'POST', path, { token: b.jwt }), 409, 'order_paid');
    const cancelled = await placeOrder(app, saleId, b.jwt);
    await call(app, 'DELETE', `/v1/orders/${cancelled.orderId}`, { token: b.jwt });
    expectProblem(
      await call(app, 'POST', `/v1/orders/${cancelled.orderId}/tokens`, { token: b.jwt }),
      409,
      'order_closed',
    );
    expectProblem(await call(app, 'POST', path, { token: (await buyer()).jwt }), 404, 'not_found');
  });
});

describe('admin view', () => {
  test('GET /admin/sales/{saleId} counts queue depth per enqueued payment', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5, perUserLimit: 5 });
    const b = await buyer();
    for (let i = 0; i < 3; i++) {
      const order = await placeOrder(app, saleId, b.jwt);
      expect((await pay(app, order.orderId, b.jwt, order.paymentToken)).status).toBe(202);
    }
    expect((await admin(app, 'GET', `/admin/sales/${saleId}`)).body.queue).toEqual({ depth: 3 });
  });
});

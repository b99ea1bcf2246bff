import { describe, expect, test as base } from '../fixtures.js';
import { PaymentStore } from '../../src/payments/payment-store.js';
import { PaymentTokens } from '../../src/payments/payment-token.js';
import { nodeHmacSha256 } from '../../src/runtime/node/adapters/crypto.js';
import { keys } from '../../src/redis/keys.js';
import { buyer, call, createSale, expectProblem, pay, placeOrder, saleCounters, TOKEN_SECRET } from '../helpers.js';

const test = base.extend<{ payments: PaymentStore }>({
  payments: [
    async ({ redis }, use) => {
      await use(new PaymentStore(redis));
    },
    { scope: 'file' },
  ],
});

describe('POST /v1/orders/{orderId}/payments', () => {
  test('consumes the token and queues the payment (202, Location, position, lane)', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const res = await pay(app, order.orderId, b.jwt, order.paymentToken);
    expect(res.status).toBe(202);
    expect(res.body).toEqual({
      paymentId: expect.stringMatching(/^pay_/),
      orderId: order.orderId,
      method: 'wallet',
      amount: 38000,
      currency: 'CNY',
      status: 'queued',
      position: 1,
      lane: 'standard',
    });
    expect(res.headers.get('location')).toBe(`/v1/payments/${res.body.paymentId}`);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
  });

  test('puts priority-tier buyers in the priority lane, with its own positions', async ({ app }) => {
    const saleId = await createSale(app, { stock: 5 });
    const std = await buyer();
    const vip = await buyer({ tier: 'priority' });
    const o1 = await placeOrder(app, saleId, std.jwt);
    const o2 = await placeOrder(app, saleId, vip.jwt);
    const o3 = await placeOrder(app, saleId, std.jwt);
    expect((await pay(app, o1.orderId, std.jwt, o1.paymentToken)).body).toMatchObject({
      lane: 'standard',
      position: 1,
    });
    expect((await pay(app, o2.orderId, vip.jwt, o2.paymentToken)).body).toMatchObject({
      lane: 'priority',
      position: 1,
    });
    expect((await pay(app, o3.orderId, std.jwt, o3.paymentToken)).body).toMatchObject({
      lane: 'standard',
      position: 2,
    });
  });

  test('the same token again replays the original payment with Idempotent-Replayed, queueing nothing', async ({
    app,
    raw,
  }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const first = await pay(app, order.orderId, b.jwt, order.paymentToken);
    const again = await pay(app, order.orderId, b.jwt, order.paymentToken);
    expect(again.status).toBe(202);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toEqual(first.body);
    expect(await raw.xlen(keys.lane(saleId, 'standard'))).toBe(1);
  });

  test('the same token with another method is 422 idempotency_key_reused', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    await pay(app, order.orderId, b.jwt, order.paymentToken, 'wallet');
    expectProblem(await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay'), 422, 'idempotency_key_reused');
  });

  test('an older (superseded) token while a payment is pending is 409 payment_pending with its paymentId', async ({
    app,
  }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const fresh = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    const payment = await pay(app, order.orderId, b.jwt, fresh.body.paymentToken);
    const res = await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay');
    expectProblem(res, 409, 'payment_pending');
    expect(res.body.paymentId).toBe(payment.body.paymentId);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });

  test('answers 409 order_paid once paid and 409 order_closed for a cancelled order', async ({ app, payments }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const fresh = await call(app, 'POST', `/v1/orders/${order.orderId}/tokens`, { token: b.jwt });
    const payment = await pay(app, order.orderId, b.jwt, fresh.body.paymentToken);
    await payments.settle(saleId, order.orderId, payment.body.paymentId, 'succeeded');
    expectProblem(await pay(app, order.orderId, b.jwt, order.paymentToken), 409, 'order_paid');
    const cancelled = await placeOrder(app, saleId, b.jwt);
    await call(app, 'DELETE', `/v1/orders/${cancelled.orderId}`, { token: b.jwt });
    expectProblem(await pay(app, cancelled.orderId, b.jwt, cancelled.paymentToken), 409, 'order_closed');
  });

  test('refuses forged, altered, borrowed and malformed tokens with 403 token_invalid before Redis', async ({
    app,
  }) => {
    const saleId = await createSale(app, { stock: 5 });
    const b = await buyer();
    const other = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const otherOrder = await placeOrder(app, saleId, other.jwt);
    const forger = new PaymentTokens(nodeHmacSha256('not-our-secret-not-our-secret-00000000'));
    const nonce = order.paymentToken.slice(3, 24);
    const tampered = order.paymentToken.slice(0, -2) + (order.paymentToken.endsWith('AA') ? 'BB' : 'AA');
    const cases = [
      await forger.sign(order.orderId, b.userId, nonce),
      tampered,
      otherOrder.paymentToken, // bound to another order
      'pt_garbage',
      'x'.repeat(200),
    ];
    for (const token of cases) expectProblem(await pay(app, order.orderId, b.jwt, token), 403, 'token_invalid');
    // another buyer presenting the real token
    expectProblem(await pay(app, order.orderId, other.jwt, order.paymentToken), 403, 'token_invalid');
    // a token minted with our secret for an order that does not exist passes the signature, not Redis
    const ours = new PaymentTokens(nodeHmacSha256(TOKEN_SECRET));
    const ghost = `${order.orderId.slice(0, 4)}${'Z'.repeat(21)}${order.orderId.slice(25)}`;
    expectProblem(await pay(app, ghost, b.jwt, await ours.sign(ghost, b.userId, nonce)), 403, 'token_invalid');
    // nothing was queued and the real token still pays
    expect(await saleCounters(app, saleId)).toMatchObject({ queue: { depth: 0 }, held: 2 });
    expect((await pay(app, order.orderId, b.jwt, order.paymentToken)).status).toBe(202);
  });

  test('an unknown method is 400 invalid_request and leaves the token usable', async ({ app }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const res = await pay(app, order.orderId, b.jwt, order.paymentToken, 'bitcoin');
    expectProblem(res, 400, 'invalid_request');
    expect(res.body.methods).toEqual(['wallet', 'alipay']);
    expect((await pay(app, order.orderId, b.jwt, order.paymentToken, 'alipay')).status).toBe(202);
  });
});

describe('GET /v1/payments/{paymentId}', () => {
  test('shows the payment with its current position', async ({ app, raw }) => {
    const saleId = await createSale(app, { stock: 5 });
    const a = await buyer();
    const b = await buyer();
    const oa = await placeOrder(app, saleId, a.jwt);
    const ob = await placeOrder(app, saleId, b.jwt);
    await pay(app, oa.orderId, a.jwt, oa.paymentToken);
    const pb = await pay(app, ob.orderId, b.jwt, ob.paymentToken);
    const res = await call(app, 'GET', `/v1/payments/${pb.body.paymentId}`, { token: b.jwt });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      paymentId: pb.body.paymentId,
      orderId: ob.orderId,
      method: 'wallet',
      amount: 38000,
      currency: 'CNY',
      status: 'queued',
      position: 2,
      failure: null,
    });
    // a worker serving one payment of the lane moves everyone behind it up by one
    await raw.hincrby(keys.lanes(saleId), 'standard:srv', 1);
    expect((await call(app, 'GET', `/v1/payments/${pb.body.paymentId}`, { token: b.jwt })).body.position).toBe(1);
  });

  test('shows succeeded with no position, and 404 not_found to anyone else', async ({ app, payments }) => {
    const saleId = await createSale(app);
    const b = await buyer();
    const order = await placeOrder(app, saleId, b.jwt);
    const payment = await pay(app, order.orderId, b.jwt, order.paymentToken);
    await payments.settle(saleId, order.orderId, payment.body.paymentId, 'succeeded');
    // settling twice changes nothing
    await payments.settle(saleId, order.orderId, payment.body.paymentId, 'failed', 'late');
    const res = await call(app, 'GET', `/v1/payments/${payment.body.paymentId}`, { token: b.jwt });
    expect(res.body).toMatchObject({ status: 'succeeded', position: null, failure: null });
    expect((await call(app, 'GET', `/v1/orders/${order.orderId}`, { token: b.jwt })).body.status).toBe('paid');
    expect(await saleCounters(app, saleId)).toMatchObject({ sold: 1, held: 0 });
    expectProblem(
      await call(app, 'GET', `/v1/payments/${payment.body.paymentId}`, { token: (await buyer()).jwt }),
      404,
      'not_found',
    );
    expectProblem(await call(app, 'GET', '/v1/payments/pay_nope', { token: b.jwt }), 404, 'not_found');
  });
});

/**
 * lua/acceptPayment.lua — consumes an order's single-use payment token and queues its payment
 * at the end of its lane (FIFO).
 * Keys: order, holds, payment, lanes, lane, admission, userWindow, addressWindow.
 * Arguments: orderId, userId, nonce, method, lane, paymentId, the two windows (windows.test.ts).
 * Outcomes: OK / REPLAYED (paymentId, position, amount, currency, lane), IDEMPOTENCY_KEY_REUSED,
 * TOKEN_INVALID, PAYMENT_PENDING, ORDER_PAID, ORDER_CLOSED, RATE_LIMITED. Only OK queues.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  acceptPayment,
  cancelOrder,
  holdOrder,
  holdsOf,
  laneOf,
  openSale,
  orderStatus,
  type PaymentHash,
  payOrder,
  readPayment,
  ScriptCode,
  settlePayment,
} from './kit.js';

describe('lua acceptPayment', () => {
  test('a held order’s token queues one payment at the end of its lane; the order is paying and leaves the holds', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { price: 300 });
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    const { paymentId, reply } = await acceptPayment(redis, order, { method: 'alipay' });
    expect(reply).toEqual([ScriptCode.OK, paymentId, 1, 600, 'CNY', 'standard']);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([paymentId]);
    expect(await orderStatus(redis, order)).toBe('paying');
    expect(await holdsOf(raw, saleId)).toEqual([]);
    const read = await readPayment(redis, saleId, paymentId, order.userId);
    expect(read.payment).toMatchObject<PaymentHash>({
      status: 'queued',
      method: 'alipay',
      amount: '600',
      orderId: order.orderId,
    });
    expect(read.position).toBe(1);
  });

  test('the same token again (a double click) answers the original payment and queues nothing', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const first = await acceptPayment(redis, order);
    const again = await acceptPayment(redis, order);
    expect(again.reply).toEqual([ScriptCode.REPLAYED, first.paymentId, 1, 100, 'CNY', 'standard']);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([first.paymentId]);
    expect((await readPayment(redis, saleId, again.paymentId, order.userId)).code).toBe(ScriptCode.NOT_FOUND);
  });

  test('the same token with another method is refused as a reused key', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    await acceptPayment(redis, order, { method: 'wallet' });
    expect((await acceptPayment(redis, order, { method: 'alipay' })).reply).toEqual([
      ScriptCode.IDEMPOTENCY_KEY_REUSED,
    ]);
    expect(await laneOf(raw, saleId, 'standard')).toHaveLength(1);
  });

  test('a wrong token, or another buyer’s call, is refused as an invalid token and queues nothing', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    expect((await acceptPayment(redis, order, { nonce: 'forged' })).reply).toEqual([ScriptCode.TOKEN_INVALID]);
    expect((await acceptPayment(redis, order, { userId: unique('u') })).reply).toEqual([ScriptCode.TOKEN_INVALID]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([]);
    expect(await orderStatus(redis, order)).toBe('held');
    expect((await acceptPayment(redis, order)).reply[0]).toBe(ScriptCode.OK);
  });

  test('a second token for an order already paying answers the pending payment', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    expect((await acceptPayment(redis, order, { nonce: 'another' })).reply).toEqual([
      ScriptCode.PAYMENT_PENDING,
      paymentId,
    ]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([paymentId]);
  });

  test('a paid order answers paid; a cancelled order or a passed hold answers closed', async ({ redis }) => {
    const saleId = await openSale(redis);
    const paid = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, paid);
    await settlePayment(redis, paid, paymentId, 'succeeded');
    expect((await acceptPayment(redis, paid, { nonce: 'another' })).reply).toEqual([ScriptCode.ORDER_PAID]);

    const cancelled = await holdOrder(redis, saleId);
    await cancelOrder(redis, cancelled);
    expect((await acceptPayment(redis, cancelled)).reply).toEqual([ScriptCode.ORDER_CLOSED]);

    // a hold of 0 s has passed as soon as it is written
    const passed = await holdOrder(redis, await openSale(redis, { holdSeconds: 0 }));
    expect((await acceptPayment(redis, passed)).reply).toEqual([ScriptCode.ORDER_CLOSED]);
    expect(await orderStatus(redis, passed)).toBe('held');
  });

  test('each lane is FIFO with its own positions: payments line up in the order accepted', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { stock: 10 });
    const orders = await Promise.all(Array.from({ length: 4 }, () => holdOrder(redis, saleId)));
    const standard = [];
    for (const order of orders.slice(0, 3)) standard.push(await payOrder(redis, order));
    const priority = await payOrder(redis, orders[3]!, { lane: 'priority' });
    expect(standard.map((p) => p.position)).toEqual([1, 2, 3]);
    expect(priority.position).toBe(1);
    expect(await laneOf(raw, saleId, 'standard')).toEqual(standard.map((p) => p.paymentId));
    expect(await laneOf(raw, saleId, 'priority')).toEqual([priority.paymentId]);
  });
});

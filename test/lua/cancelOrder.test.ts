/**
 * lua/cancelOrder.lua — cancels a held order and releases its stock.
 * Keys: order, sale, users, holds. Arguments: orderId, userId (the caller).
 * Outcomes: OK (the order, Redis time), NOT_FOUND (another buyer's or no order),
 * PAYMENT_PENDING (paymentId), ORDER_PAID. Idempotent: an ended order is answered unchanged.
 * A held order whose hold has passed is expired here, as the sweep would, not cancelled.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  cancelOrder,
  holdOrder,
  holdsOf,
  openSale,
  type OrderHash,
  orderHash,
  orderStatus,
  payOrder,
  saleOf,
  ScriptCode,
  settlePayment,
  unitsOf,
} from './kit.js';

describe('lua cancelOrder', () => {
  test('cancelling a held order returns its units to the sale and to the buyer’s allowance', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { stock: 4 });
    const order = await holdOrder(redis, saleId, { quantity: 3 });
    const reply = await cancelOrder(redis, order);
    expect(reply[0]).toBe(ScriptCode.OK);
    expect(orderHash(reply[1])).toMatchObject<OrderHash>({ status: 'cancelled' });
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, available: view.available }).toEqual({ held: 0, available: 4 });
    expect(await unitsOf(raw, saleId, order.userId)).toBe(0);
    expect(await holdsOf(raw, saleId)).toEqual([]);
  });

  test('cancelling again answers the cancelled order and releases nothing twice', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { stock: 4 });
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    await holdOrder(redis, saleId, { quantity: 1, userId: order.userId });
    await cancelOrder(redis, order);
    const again = await cancelOrder(redis, order);
    expect(again[0]).toBe(ScriptCode.OK);
    expect(orderHash(again[1])).toMatchObject<OrderHash>({ status: 'cancelled' });
    expect((await saleOf(redis, saleId)).held).toBe(1);
    expect(await unitsOf(raw, saleId, order.userId)).toBe(1);
  });

  test('another buyer cannot cancel the order: not found, nothing changes', async ({ redis }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    expect(await cancelOrder(redis, order, unique('u'))).toEqual([ScriptCode.NOT_FOUND]);
    expect(await orderStatus(redis, order)).toBe('held');
    expect((await saleOf(redis, saleId)).held).toBe(1);
  });

  test('an order being paid or paid cannot be cancelled', async ({ redis }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    expect(await cancelOrder(redis, order)).toEqual([ScriptCode.PAYMENT_PENDING, paymentId]);
    await settlePayment(redis, order, paymentId, 'succeeded');
    expect(await cancelOrder(redis, order)).toEqual([ScriptCode.ORDER_PAID]);
    expect((await saleOf(redis, saleId)).sold).toBe(1);
  });

  test('a held order whose hold has passed is expired, not cancelled, and its stock returns once', async ({
    redis,
  }) => {
    const saleId = await openSale(redis, { holdSeconds: 0, stock: 2 });
    const order = await holdOrder(redis, saleId);
    const reply = await cancelOrder(redis, order);
    expect(orderHash(reply[1])).toMatchObject<OrderHash>({ status: 'expired' });
    await cancelOrder(redis, order);
    expect((await saleOf(redis, saleId)).available).toBe(2);
  });
});

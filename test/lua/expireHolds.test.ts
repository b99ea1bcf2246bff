/**
 * lua/expireHolds.lua — expires held orders whose hold has passed (on Redis time) and returns
 * their stock. Keys: sale, users, holds, then the candidate orders. Arguments: their ids.
 * Outcome: OK with the number expired. Any number of sweeps may race: an order is released
 * exactly once; orders no longer held are only dropped from the holds.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  expireHolds,
  holdOrder,
  holdsOf,
  openSale,
  orderStatus,
  payOrder,
  saleOf,
  ScriptCode,
  unitsOf,
} from './kit.js';

describe('lua expireHolds', () => {
  test('a passed hold is expired and its units return to the sale and the buyer', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { holdSeconds: 0, stock: 5 });
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    expect(await expireHolds(redis, saleId, [order.orderId])).toEqual([ScriptCode.OK, 1]);
    expect(await orderStatus(redis, order)).toBe('expired');
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, available: view.available }).toEqual({ held: 0, available: 5 });
    expect(await unitsOf(raw, saleId, order.userId)).toBe(0);
    expect(await holdsOf(raw, saleId)).toEqual([]);
  });

  test('sweeps racing on the same orders release each exactly once', async ({ redis }) => {
    const saleId = await openSale(redis, { holdSeconds: 0, stock: 6, perUserLimit: 6 });
    const orders = await Promise.all(Array.from({ length: 3 }, () => holdOrder(redis, saleId, { quantity: 2 })));
    const ids = orders.map((o) => o.orderId);
    const replies = await Promise.all([
      expireHolds(redis, saleId, ids),
      expireHolds(redis, saleId, ids),
      expireHolds(redis, saleId, ids),
    ]);
    expect(replies.reduce((sum, r) => sum + Number(r[1]), 0)).toBe(3);
    expect((await saleOf(redis, saleId)).held).toBe(0);
    expect((await saleOf(redis, saleId)).available).toBe(6);
  });

  test('a hold that has not passed stays held, and stays in the holds', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { holdSeconds: 300 });
    const order = await holdOrder(redis, saleId);
    expect(await expireHolds(redis, saleId, [order.orderId])).toEqual([ScriptCode.OK, 0]);
    expect(await orderStatus(redis, order)).toBe('held');
    expect(await holdsOf(raw, saleId)).toEqual([order.orderId]);
  });

  test('an order no longer held (paying) is only dropped from the holds; a missing one changes nothing', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { holdSeconds: 300 });
    const order = await holdOrder(redis, saleId);
    await payOrder(redis, order);
    // a stale candidate: the sweep read it before the payment took it out of the holds
    await raw.zadd(keys.holds(saleId), 0, order.orderId);
    expect(await expireHolds(redis, saleId, [order.orderId, unique('ord')])).toEqual([ScriptCode.OK, 0]);
    expect(await orderStatus(redis, order)).toBe('paying');
    expect(await holdsOf(raw, saleId)).toEqual([]);
    expect((await saleOf(redis, saleId)).held).toBe(1);
  });
});

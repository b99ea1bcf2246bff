/**
 * lua/readOrder.lua — an order as its buyer may see it, with Redis time (so a hold that has
 * passed shows expired before the sweep reaches it). Keys: order. Arguments: userId.
 * Outcomes: OK (the order, nowMs), NOT_FOUND (another buyer's, or none). Read-only.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { holdOrder, openSale, type OrderHash, readOrder, redisNow, ScriptCode } from './kit.js';

describe('lua readOrder', () => {
  test('the buyer reads their order with Redis time; another buyer, or an order id that does not exist, is not found', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { price: 70 });
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    const read = await readOrder(redis, order);
    expect(read.code).toBe(ScriptCode.OK);
    expect(read.order).toMatchObject<OrderHash>({
      status: 'held',
      quantity: '2',
      amount: '140',
      currency: 'CNY',
      userId: order.userId,
    });
    expect(Math.abs(read.nowMs! - (await redisNow(raw)))).toBeLessThan(5_000);
    expect(await readOrder(redis, order, unique('u'))).toEqual({ code: ScriptCode.NOT_FOUND });
    expect(await readOrder(redis, { ...order, orderId: unique('ord') })).toEqual({ code: ScriptCode.NOT_FOUND });
  });

  test('a read writes nothing: the order key and the sale keys are as they were', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const before = await raw.dump(keys.order(saleId, order.orderId));
    await readOrder(redis, order);
    await readOrder(redis, order, unique('u'));
    expect(await raw.dump(keys.order(saleId, order.orderId))).toEqual(before);
    expect(await raw.exists(keys.order(saleId, 'missing'))).toBe(0);
  });
});

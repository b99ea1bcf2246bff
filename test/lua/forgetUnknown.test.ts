/**
 * lua/forgetUnknown.lua — a payment in the re-query set needs no channel query now: it leaves
 * the re-query (unknown) and review sets, unless a worker is still charging it (processing),
 * which stays, to be looked at again recheckInMs from now (Redis time). Keys: payment, unknown,
 * review. Arguments: paymentId, recheckInMs. Outcome: OK with 1 if forgotten, 0 if kept.
 * It writes nothing else: the payment and its order are left as they are.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  forgetUnknown,
  holdOrder,
  markUnknown,
  openSale,
  orderStatus,
  payOrder,
  readPayment,
  redisNow,
  ScriptCode,
  scheduleRecheck,
  settlePayment,
  takePayments,
  unknownOf,
} from './kit.js';

describe('lua forgetUnknown', () => {
  test('a settled payment leaves the unknown and review sets; its records are untouched', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
    await markUnknown(redis, order, paymentId, 1);
    await scheduleRecheck(redis, saleId, paymentId, { baseMs: 1000, maxMs: 1000, reviewAfterMs: 0 });
    expect(await raw.zscore(keys.review(saleId), paymentId)).not.toBeNull();
    await settlePayment(redis, order, paymentId, 'succeeded');

    expect(await forgetUnknown(redis, saleId, paymentId, 5000)).toEqual([ScriptCode.OK, 1]);
    expect(await unknownOf(raw, saleId)).toEqual({});
    expect(await raw.zscore(keys.review(saleId), paymentId)).toBeNull();
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment?.status).toBe('succeeded');
    expect(await orderStatus(redis, order)).toBe('paid');
  });

  test('a payment a worker is still charging stays, looked at again recheckInMs from now', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
    await raw.zadd(keys.unknown(saleId), 0, paymentId); // a notification came before the charge ended

    const before = await redisNow(raw);
    expect(await forgetUnknown(redis, saleId, paymentId, 5000)).toEqual([ScriptCode.OK, 0]);
    const next = (await unknownOf(raw, saleId))[paymentId]!;
    expect(next).toBeGreaterThanOrEqual(before + 5000);
    expect(next).toBeLessThanOrEqual((await redisNow(raw)) + 5000);
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment?.status).toBe('processing');
  });

  test('a payment that does not exist (expired) is forgotten', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const paymentId = unique('pay');
    await raw.zadd(keys.unknown(saleId), 0, paymentId);
    await raw.zadd(keys.review(saleId), 0, paymentId);
    expect(await forgetUnknown(redis, saleId, paymentId, 5000)).toEqual([ScriptCode.OK, 1]);
    expect(await unknownOf(raw, saleId)).toEqual({});
    expect(await raw.zcard(keys.review(saleId))).toBe(0);
  });
});

/**
 * lua/scheduleRecheck.lua — a payment's channel still gave no answer to a query: it is queried
 * again after a backoff that doubles with each unanswered query (baseMs, 2·baseMs, … up to
 * maxMs), and once unanswered for reviewAfterMs since it was accepted it is marked for review,
 * once. Keys: payment, unknown, review. Arguments: paymentId, baseMs, maxMs, reviewAfterMs.
 * Outcome: OK with the ms until the next query and 1 if marked for review now (else 0). It
 * writes the next check time (Redis time + delay) in the unknown set and the review mark; the
 * payment stays unknown and its order keeps its stock, so a late answer still settles it.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import {
  holdOrder,
  markUnknown,
  openSale,
  orderStatus,
  payOrder,
  readOpsView,
  readPayment,
  redisNow,
  saleOf,
  ScriptCode,
  scheduleRecheck,
  settlePayment,
  takePayments,
  unknownOf,
} from './kit.js';

/** A payment taken by a worker whose channel gave no answer: unknown, its order paying. */
async function unanswered(redis: Parameters<typeof openSale>[0], quantity = 1) {
  const saleId = await openSale(redis, { stock: 5 });
  const order = await holdOrder(redis, saleId, { quantity });
  const { paymentId } = await payOrder(redis, order);
  await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
  await markUnknown(redis, order, paymentId, 1);
  return { saleId, order, paymentId };
}

const NO_REVIEW = 3_600_000;

describe('lua scheduleRecheck', () => {
  test('each unanswered query doubles the delay up to maxMs; the next check is Redis time plus it', async ({
    redis,
    raw,
  }) => {
    const { saleId, paymentId } = await unanswered(redis);
    const policy = { baseMs: 1000, maxMs: 5000, reviewAfterMs: NO_REVIEW };
    for (const delay of [1000, 2000, 4000, 5000, 5000]) {
      const before = await redisNow(raw);
      expect(await scheduleRecheck(redis, saleId, paymentId, policy)).toEqual([ScriptCode.OK, delay, 0]);
      const after = await redisNow(raw);
      const next = (await unknownOf(raw, saleId))[paymentId]!;
      expect(next).toBeGreaterThanOrEqual(before + delay);
      expect(next).toBeLessThanOrEqual(after + delay);
    }
    expect(await raw.zcard(keys.review(saleId))).toBe(0);
  });

  test('unanswered past reviewAfterMs: marked for review once, still unknown and queried, its stock still held', async ({
    redis,
    raw,
  }) => {
    const { saleId, order, paymentId } = await unanswered(redis, 2);
    const policy = { baseMs: 1000, maxMs: 60_000, reviewAfterMs: 0 };
    const before = await redisNow(raw);
    expect(await scheduleRecheck(redis, saleId, paymentId, policy)).toEqual([ScriptCode.OK, 1000, 1]);
    const markedAt = Number(await raw.zscore(keys.review(saleId), paymentId));
    expect(markedAt).toBeGreaterThanOrEqual(before);
    expect(markedAt).toBeLessThanOrEqual(await redisNow(raw));
    // marked once: later queries keep the first mark
    expect(await scheduleRecheck(redis, saleId, paymentId, policy)).toEqual([ScriptCode.OK, 2000, 0]);
    expect(Number(await raw.zscore(keys.review(saleId), paymentId))).toBe(markedAt);
    const view = await readOpsView(redis, saleId);
    expect({ unknown: view.unknown, review: view.review }).toEqual({ unknown: 1, review: 1 });
    expect(Object.keys(await unknownOf(raw, saleId))).toEqual([paymentId]);
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment?.status).toBe('unknown');
    expect(await orderStatus(redis, order)).toBe('paying');
    expect((await saleOf(redis, saleId)).held).toBe(2);
    // a late answer still settles it
    expect(await settlePayment(redis, order, paymentId, 'succeeded')).toEqual([ScriptCode.OK, 'succeeded', 'paid']);
    expect((await saleOf(redis, saleId)).sold).toBe(2);
  });

  test('not marked before reviewAfterMs has passed since the payment was accepted', async ({ redis, raw }) => {
    const { saleId, order, paymentId } = await unanswered(redis);
    const createdAt = Number((await readPayment(redis, saleId, paymentId, order.userId)).payment?.createdAt);
    const elapsed = (await redisNow(raw)) - createdAt;
    const policy = { baseMs: 1000, maxMs: 60_000, reviewAfterMs: elapsed + 60_000 };
    expect(await scheduleRecheck(redis, saleId, paymentId, policy)).toEqual([ScriptCode.OK, 1000, 0]);
    expect(await raw.zscore(keys.review(saleId), paymentId)).toBeNull();
    expect(await scheduleRecheck(redis, saleId, paymentId, { ...policy, reviewAfterMs: Math.max(0, elapsed) })).toEqual(
      [ScriptCode.OK, 2000, 1],
    );
    expect(await raw.zscore(keys.review(saleId), paymentId)).not.toBeNull();
  });
});

/**
 * lua/refundOversold.lua — the ledger refunded one of an oversold sale's latest charges; Redis
 * shows it. Keys: sale, users, order, payment, oversell. Arguments: paymentId, charges (units
 * the ledger kept charged when detected), seats (the sale's stock).
 * Outcome: OK with 1 if refunded now, 0 if the payment was refunded already (idempotent: then
 * nothing changes but the charges and seats seen).
 *   the payment becomes `refunded` (failure code oversold)
 *   its order, when this payment paid it, is `cancelled`: its units leave sold and the buyer's
 *   the sale's oversell record (charges, seats, when first detected, refunds made) is written
 *     for the ops view (read back here through readOpsView)
 * The records it ends expire after the sale's record TTL (lua/includes/retire.lua).
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  holdOrder,
  openSale,
  orderStatus,
  type PaymentHash,
  paymentStatusOnOrder,
  payOrder,
  readOpsView,
  readPayment,
  redisNow,
  refundOversold,
  saleOf,
  ScriptCode,
  settlePayment,
  takePayments,
  unitsOf,
} from './kit.js';

/** An order of `quantity` units paid in full (payment succeeded, units sold). */
async function paidOrder(redis: Parameters<typeof openSale>[0], saleId: string, quantity = 1) {
  const order = await holdOrder(redis, saleId, { quantity });
  const { paymentId } = await payOrder(redis, order);
  await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
  await settlePayment(redis, order, paymentId, 'succeeded');
  return { order, paymentId };
}

describe('lua refundOversold', () => {
  test('the refunded charge’s order is cancelled: its units leave sold and the buyer’s count; the alarm is recorded', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 5 });
    const kept = await paidOrder(redis, saleId, 1);
    const { order, paymentId } = await paidOrder(redis, saleId, 2);
    expect((await saleOf(redis, saleId)).sold).toBe(3);
    const before = await redisNow(raw);
    expect(await refundOversold(redis, order, paymentId, 7, 5)).toEqual([ScriptCode.OK, 1]);
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, sold: view.sold, available: view.available }).toEqual({ held: 0, sold: 1, available: 4 });
    expect(await unitsOf(raw, saleId, order.userId)).toBe(0);
    expect(await orderStatus(redis, order)).toBe('cancelled');
    expect(await paymentStatusOnOrder(redis, order)).toBe('refunded');
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'refunded',
      failureCode: 'oversold',
    });
    // the other buyer's charge is untouched
    expect(await orderStatus(redis, kept.order)).toBe('paid');
    expect(await unitsOf(raw, saleId, kept.order.userId)).toBe(1);
    const { oversell } = await readOpsView(redis, saleId);
    expect({ ...oversell, detectedAt: undefined }).toEqual({
      charges: '7',
      seats: '5',
      refunded: '1',
      detectedAt: undefined,
    });
    expect(Number(oversell.detectedAt)).toBeGreaterThanOrEqual(before);
  });

  test('refunding again changes nothing; further refunds add up and keep when it was first detected', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 5 });
    const first = await paidOrder(redis, saleId);
    const second = await paidOrder(redis, saleId);
    await refundOversold(redis, first.order, first.paymentId, 7, 5);
    const { detectedAt } = (await readOpsView(redis, saleId)).oversell;
    expect(await refundOversold(redis, first.order, first.paymentId, 7, 5)).toEqual([ScriptCode.OK, 0]);
    expect((await saleOf(redis, saleId)).sold).toBe(1);
    expect(await unitsOf(raw, saleId, first.order.userId)).toBe(0);
    expect((await readOpsView(redis, saleId)).oversell.refunded).toBe('1');

    // a later pass saw other figures and refunds the next charge
    expect(await refundOversold(redis, second.order, second.paymentId, 6, 5)).toEqual([ScriptCode.OK, 1]);
    expect((await readOpsView(redis, saleId)).oversell).toEqual({
      charges: '6',
      seats: '5',
      refunded: '2',
      detectedAt,
    });
    expect((await saleOf(redis, saleId)).sold).toBe(0);
  });

  test('a charge that did not pay its order (another payment did) refunds only itself', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const { order, paymentId } = await paidOrder(redis, saleId, 2);
    const other = unique('pay');
    expect(await refundOversold(redis, order, other, 3, 2)).toEqual([ScriptCode.OK, 1]);
    expect(await orderStatus(redis, order)).toBe('paid');
    expect(await paymentStatusOnOrder(redis, order)).toBe('succeeded');
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'succeeded',
    });
    expect((await saleOf(redis, saleId)).sold).toBe(2);
    expect(await unitsOf(raw, saleId, order.userId)).toBe(2);
    expect((await readOpsView(redis, saleId)).oversell).toMatchObject({ refunded: '1' });
  });

  test('the order and payment it ends expire after the sale’s record TTL (retire)', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const { order, paymentId } = await paidOrder(redis, saleId);
    // set after the payment settled (with the default TTL): the reconciler writes
    // RUSHGATE_RECORD_TTL_SECONDS on the sale as recordTtlMs
    const recordTtlMs = 26 * 3600 * 1000;
    await raw.hset(keys.sale(saleId), 'recordTtlMs', recordTtlMs);
    await refundOversold(redis, order, paymentId, 11, 10);
    for (const key of [keys.order(saleId, order.orderId), keys.payment(saleId, paymentId)]) {
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(recordTtlMs - 60_000);
      expect(pttl).toBeLessThanOrEqual(recordTtlMs);
    }
  });
});

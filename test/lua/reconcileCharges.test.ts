/**
 * lua/reconcileCharges.lua — makes Redis agree with the ledger (the truth) about the charges it
 * keeps: each charge named is retained and not refunded, so its payment is `succeeded` and its
 * order `paid`, with the order's units counted sold.
 * Keys: sale, users, holds, lanes, then order k and payment k for each charge. Arguments per
 * charge: orderId, paymentId, userId, method, amount, currency, createdAtMs.
 * Outcomes: OK (orders repaired, payments repaired), SALE_NOT_FOUND (nothing written).
 *   a lost payment or order is written again from the charge (the order's units from
 *     amount / price), its units counted sold and the buyer's
 *   a held or paying order becomes paid: its units move from held to sold, off the holds
 *   an expired or cancelled order becomes paid: its units are sold and the buyer's again
 *   a queued payment becomes succeeded and counts as served, so positions behind it stay right
 *   anything already in agreement is left alone (idempotent)
 * Restored records expire after the sale's record TTL (lua/includes/retire.lua: the sale's
 * recordTtlMs field, 7 days when unset).
 */
import type { Redis } from 'ioredis';
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  cancelOrder,
  expireHolds,
  type Held,
  holdOrder,
  holdsOf,
  type KeptCharge,
  openSale,
  type OrderHash,
  orderStatus,
  type PaymentHash,
  paymentStatusOnOrder,
  payOrder,
  readOrder,
  readPayment,
  reconcileCharges,
  redisNow,
  saleKeys,
  saleOf,
  ScriptCode,
  settlePayment,
  takePayments,
} from './kit.js';

const SEVEN_DAYS_MS = 7 * 24 * 3600 * 1000;

/** The charge the ledger keeps for `order` paid by `paymentId` at 100 per unit. */
const chargeOf = (order: Held, paymentId: string, createdAtMs: number): KeptCharge => ({
  orderId: order.orderId,
  paymentId,
  userId: order.userId,
  method: 'wallet',
  amount: 100 * order.quantity,
  currency: 'CNY',
  createdAtMs,
});

async function counters(redis: Parameters<typeof openSale>[0], raw: Redis, saleId: string, userId: string) {
  const view = await saleOf(redis, saleId);
  return {
    held: view.held,
    sold: view.sold,
    orders: view.orders,
    units: Number((await raw.hget(keys.saleUsers(saleId), userId)) ?? 0),
  };
}

describe('lua reconcileCharges', () => {
  test('a charge Redis lost entirely: order and payment written again, its units sold and the buyer’s', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 10, price: 100 });
    const createdAtMs = (await redisNow(raw)) - 5000;
    const order: Held = { saleId, orderId: unique('ord'), userId: unique('u'), nonce: '', quantity: 3 };
    const paymentId = unique('pay');
    expect(await reconcileCharges(redis, saleId, [chargeOf(order, paymentId, createdAtMs)])).toEqual([
      ScriptCode.OK,
      1,
      1,
    ]);
    expect(await counters(redis, raw, saleId, order.userId)).toEqual({ held: 0, sold: 3, orders: 1, units: 3 });
    const read = await readOrder(redis, order);
    expect(read.order).toMatchObject<OrderHash>({ status: 'paid', quantity: '3', amount: '300', pid: paymentId });
    expect(await paymentStatusOnOrder(redis, order)).toBe('succeeded');
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'succeeded',
      orderId: order.orderId,
      amount: '300',
      method: 'wallet',
    });
    expect(await holdsOf(raw, saleId)).toEqual([]);
    // a second run (another process, the next pass) finds them in agreement
    expect(await reconcileCharges(redis, saleId, [chargeOf(order, paymentId, createdAtMs)])).toEqual([
      ScriptCode.OK,
      0,
      0,
    ]);
    expect(await counters(redis, raw, saleId, order.userId)).toEqual({ held: 0, sold: 3, orders: 1, units: 3 });
  });

  test('a paid order with a succeeded payment is left alone', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    const { paymentId } = await payOrder(redis, order);
    await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
    await settlePayment(redis, order, paymentId, 'succeeded');
    const before = await counters(redis, raw, saleId, order.userId);
    expect(before).toEqual({ held: 0, sold: 2, orders: 1, units: 2 });
    expect(await reconcileCharges(redis, saleId, [chargeOf(order, paymentId, 1)])).toEqual([ScriptCode.OK, 0, 0]);
    expect(await counters(redis, raw, saleId, order.userId)).toEqual(before);
    expect(await orderStatus(redis, order)).toBe('paid');
  });

  test('a held order whose payment Redis lost becomes paid: its units move from held to sold, off the holds', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 5 });
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    const paymentId = unique('pay');
    expect(await reconcileCharges(redis, saleId, [chargeOf(order, paymentId, await redisNow(raw))])).toEqual([
      ScriptCode.OK,
      1,
      1,
    ]);
    expect(await counters(redis, raw, saleId, order.userId)).toEqual({ held: 0, sold: 2, orders: 1, units: 2 });
    expect((await saleOf(redis, saleId)).available).toBe(3);
    expect(await holdsOf(raw, saleId)).toEqual([]);
    expect(await orderStatus(redis, order)).toBe('paid');
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'succeeded',
    });
  });

  test('a queued payment becomes succeeded and counts as served: the payment behind it moves up', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const first = await holdOrder(redis, saleId);
    const second = await holdOrder(redis, saleId);
    const a = await payOrder(redis, first);
    const b = await payOrder(redis, second);
    expect((await readPayment(redis, saleId, b.paymentId, second.userId)).position).toBe(2);
    expect(await reconcileCharges(redis, saleId, [chargeOf(first, a.paymentId, 1)])).toEqual([ScriptCode.OK, 1, 1]);
    expect((await readPayment(redis, saleId, a.paymentId, first.userId)).payment).toMatchObject<PaymentHash>({
      status: 'succeeded',
    });
    expect((await readPayment(redis, saleId, b.paymentId, second.userId)).position).toBe(1);
    expect(await orderStatus(redis, first)).toBe('paid');
    expect(await counters(redis, raw, saleId, first.userId)).toEqual({ held: 1, sold: 1, orders: 2, units: 1 });
    // the other order still waits on its own payment
    expect(await orderStatus(redis, second)).toBe('paying');
  });

  test('a cancelled or expired order becomes paid: its units are sold and the buyer’s again', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 5, holdSeconds: 0 });
    const cancelled = await holdOrder(redis, saleId, { quantity: 2 });
    expect((await cancelOrder(redis, cancelled))[0]).toBe(ScriptCode.OK);
    expect(await counters(redis, raw, saleId, cancelled.userId)).toEqual({ held: 0, sold: 0, orders: 1, units: 0 });
    const charges = [chargeOf(cancelled, unique('pay'), 1)];
    expect(await reconcileCharges(redis, saleId, charges)).toEqual([ScriptCode.OK, 1, 1]);
    expect(await counters(redis, raw, saleId, cancelled.userId)).toEqual({ held: 0, sold: 2, orders: 1, units: 2 });
    expect(await orderStatus(redis, cancelled)).toBe('paid');
    expect(await reconcileCharges(redis, saleId, charges)).toEqual([ScriptCode.OK, 0, 0]);
    expect((await saleOf(redis, saleId)).sold).toBe(2);

    // a 0 s hold has passed at once: the sweep expires it
    const expired = await holdOrder(redis, saleId);
    expect(await expireHolds(redis, saleId, [expired.orderId])).toEqual([ScriptCode.OK, 1]);
    expect(await orderStatus(redis, expired)).toBe('expired');
    expect(await counters(redis, raw, saleId, expired.userId)).toMatchObject({ held: 0, sold: 2, units: 0 });
    expect(await reconcileCharges(redis, saleId, [chargeOf(expired, unique('pay'), 1)])).toEqual([ScriptCode.OK, 1, 1]);
    expect(await counters(redis, raw, saleId, expired.userId)).toEqual({ held: 0, sold: 3, orders: 2, units: 1 });
    expect(await orderStatus(redis, expired)).toBe('paid');
  });

  test('several charges in one call: each repaired once, the sale counted for all', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { stock: 10, price: 100 });
    const held = await holdOrder(redis, saleId, { quantity: 2 });
    const lost: Held = { saleId, orderId: unique('ord'), userId: unique('u'), nonce: '', quantity: 1 };
    // amount / price rounds to the nearest unit: 149 at 100 is 1 unit
    const charges = [chargeOf(held, unique('pay'), 1), { ...chargeOf(lost, unique('pay'), 1), amount: 149 }];
    expect(await reconcileCharges(redis, saleId, charges)).toEqual([ScriptCode.OK, 2, 2]);
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, sold: view.sold, orders: view.orders }).toEqual({ held: 0, sold: 3, orders: 2 });
    expect((await readOrder(redis, lost)).order).toMatchObject<OrderHash>({ status: 'paid', quantity: '1' });
    expect(await holdsOf(raw, saleId)).toEqual([]);
    expect(await counters(redis, raw, saleId, held.userId)).toMatchObject({ units: 2 });
  });

  test('a sale Redis does not know: SALE_NOT_FOUND, nothing written', async ({ redis, raw }) => {
    const ghost = unique('ghost');
    const order: Held = { saleId: ghost, orderId: unique('ord'), userId: unique('u'), nonce: '', quantity: 1 };
    expect(await reconcileCharges(redis, ghost, [chargeOf(order, unique('pay'), 1)])).toEqual([
      ScriptCode.SALE_NOT_FOUND,
    ]);
    expect(await saleKeys(raw, ghost)).toEqual([]);
  });

  test('records it writes expire after the sale’s record TTL (retire), 7 days when the sale sets none', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const order: Held = { saleId, orderId: unique('ord'), userId: unique('u'), nonce: '', quantity: 1 };
    const paymentId = unique('pay');
    await reconcileCharges(redis, saleId, [chargeOf(order, paymentId, 1)]);
    for (const key of [keys.order(saleId, order.orderId), keys.payment(saleId, paymentId)]) {
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(SEVEN_DAYS_MS - 60_000);
      expect(pttl).toBeLessThanOrEqual(SEVEN_DAYS_MS);
    }
    // the reconciler writes RUSHGATE_RECORD_TTL_SECONDS on the sale as recordTtlMs
    const held = await holdOrder(redis, saleId);
    const recordTtlMs = 26 * 3600 * 1000;
    await raw.hset(keys.sale(saleId), 'recordTtlMs', recordTtlMs);
    const heldPayment = unique('pay');
    await reconcileCharges(redis, saleId, [chargeOf(held, heldPayment, 1)]);
    for (const key of [keys.order(saleId, held.orderId), keys.payment(saleId, heldPayment)]) {
      const pttl = await raw.pttl(key);
      expect(pttl).toBeGreaterThan(recordTtlMs - 60_000);
      expect(pttl).toBeLessThanOrEqual(recordTtlMs);
    }
  });
});

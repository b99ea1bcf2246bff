/**
 * lua/settlePayment.lua — records a payment's final outcome on the payment and its order.
 * Keys: payment, order, sale, users, holds. Arguments: paymentId, outcome (succeeded | refunded
 * | failed), failureCode. Outcomes: OK (payment status, order status), NOT_FOUND; an unknown
 * outcome is a script error. Idempotent: a settled payment is answered unchanged.
 *   succeeded -> the order is paid, its units move from held to sold
 *   refunded  -> the order is paid by another charge if it was waiting on this payment
 *   failed    -> the order is held again, or expired with its stock back if its hold passed
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  acceptPayment,
  holdOrder,
  holdsOf,
  openSale,
  orderStatus,
  type PaymentHash,
  payOrder,
  readPayment,
  reissueToken,
  saleOf,
  ScriptCode,
  settlePayment,
  takePayments,
  unitsOf,
  untilHoldPassed,
} from './kit.js';

async function paying(redis: Parameters<typeof openSale>[0], fields: Parameters<typeof openSale>[1] = {}) {
  const saleId = await openSale(redis, fields);
  const order = await holdOrder(redis, saleId, { quantity: 2 });
  const { paymentId } = await payOrder(redis, order);
  await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
  return { saleId, order, paymentId };
}

describe('lua settlePayment', () => {
  test('a success pays the order: its units move from held to sold and stay the buyer’s', async ({ redis, raw }) => {
    const { saleId, order, paymentId } = await paying(redis, { stock: 5 });
    expect(await settlePayment(redis, order, paymentId, 'succeeded')).toEqual([ScriptCode.OK, 'succeeded', 'paid']);
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, sold: view.sold, available: view.available }).toEqual({ held: 0, sold: 2, available: 3 });
    expect(await unitsOf(raw, saleId, order.userId)).toBe(2);
    expect(await orderStatus(redis, order)).toBe('paid');
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'succeeded',
    });
  });

  test('settling again (any outcome) answers the first settlement and counts nothing twice', async ({ redis }) => {
    const { saleId, order, paymentId } = await paying(redis);
    await settlePayment(redis, order, paymentId, 'succeeded');
    expect(await settlePayment(redis, order, paymentId, 'succeeded')).toEqual([ScriptCode.OK, 'succeeded', 'paid']);
    expect(await settlePayment(redis, order, paymentId, 'failed', 'late')).toEqual([
      ScriptCode.OK,
      'succeeded',
      'paid',
    ]);
    expect((await saleOf(redis, saleId)).sold).toBe(2);
  });

  test('a failure puts the order back on hold (in the holds again); a new token can pay it', async ({ redis, raw }) => {
    const { saleId, order, paymentId } = await paying(redis);
    expect(await settlePayment(redis, order, paymentId, 'failed', 'card_declined')).toEqual([
      ScriptCode.OK,
      'failed',
      'held',
    ]);
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'failed',
      failureCode: 'card_declined',
    });
    expect(await holdsOf(raw, saleId)).toEqual([order.orderId]);
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, sold: view.sold }).toEqual({ held: 2, sold: 0 });
    // the consumed token stays consumed; a fresh one pays
    expect((await acceptPayment(redis, order, { nonce: unique('n') })).reply).toEqual([ScriptCode.TOKEN_INVALID]);
    const fresh = unique('n');
    expect((await reissueToken(redis, order, fresh))[0]).toBe(ScriptCode.OK);
    expect((await acceptPayment(redis, order, { nonce: fresh })).reply[0]).toBe(ScriptCode.OK);
  });

  test('a failure after the hold has passed expires the order and returns its stock', async ({ redis, raw }) => {
    const { saleId, order, paymentId } = await paying(redis, { holdSeconds: 1 });
    await untilHoldPassed(redis, raw, order);
    expect(await settlePayment(redis, order, paymentId, 'failed', 'timeout')).toEqual([
      ScriptCode.OK,
      'failed',
      'expired',
    ]);
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, available: view.available }).toEqual({ held: 0, available: 10 });
    expect(await unitsOf(raw, saleId, order.userId)).toBe(0);
    expect(await holdsOf(raw, saleId)).toEqual([]);
  });

  test('a refund of the payment the order waits on pays the order (another charge was kept)', async ({ redis }) => {
    const { saleId, order, paymentId } = await paying(redis);
    expect(await settlePayment(redis, order, paymentId, 'refunded')).toEqual([ScriptCode.OK, 'refunded', 'paid']);
    expect((await saleOf(redis, saleId)).sold).toBe(2);
  });

  test('a refund of a payment already failed marks it refunded and leaves the order where it moved', async ({
    redis,
  }) => {
    const { saleId, order, paymentId } = await paying(redis);
    await settlePayment(redis, order, paymentId, 'failed');
    expect(await settlePayment(redis, order, paymentId, 'refunded')).toEqual([ScriptCode.OK, 'refunded', 'held']);
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'refunded',
    });
    expect(await orderStatus(redis, order)).toBe('held');
    expect((await saleOf(redis, saleId)).sold).toBe(0);
  });

  test('a payment that does not exist is not found; an unknown outcome is an error and writes nothing', async ({
    redis,
  }) => {
    const { saleId, order, paymentId } = await paying(redis);
    expect(await settlePayment(redis, order, unique('pay'), 'succeeded')).toEqual([ScriptCode.NOT_FOUND]);
    await expect(settlePayment(redis, order, paymentId, 'maybe')).rejects.toThrow(/unknown outcome/);
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'processing',
    });
  });
});

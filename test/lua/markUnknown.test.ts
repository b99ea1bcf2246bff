/**
 * lua/markUnknown.lua — a channel gave no answer (a timeout): the payment is `unknown`, never
 * assumed failed, and scheduled for a status query; the order keeps waiting on it.
 * Keys: payment, order, unknown. Arguments: paymentId, nextCheckMs.
 * Outcome: OK with the payment's status after. Only a processing or unknown payment is
 * (re)scheduled; a settled or queued one is answered as it is.
 */
import { describe, expect, test } from '../fixtures.js';
import {
  holdOrder,
  markUnknown,
  openSale,
  orderStatus,
  type PaymentHash,
  paymentStatusOnOrder,
  payOrder,
  readPayment,
  ScriptCode,
  settlePayment,
  takePayments,
  unknownOf,
} from './kit.js';

describe('lua markUnknown', () => {
  test('a processing payment becomes unknown and is scheduled at the given time; the order stays paying', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
    expect(await markUnknown(redis, order, paymentId, 12_345)).toEqual([ScriptCode.OK, 'unknown']);
    expect(await unknownOf(raw, saleId)).toEqual({ [paymentId]: 12_345 });
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment).toMatchObject<PaymentHash>({
      status: 'unknown',
    });
    expect(await orderStatus(redis, order)).toBe('paying');
    expect(await paymentStatusOnOrder(redis, order)).toBe('unknown');
    // still unknown at the next check: scheduled again, later
    expect(await markUnknown(redis, order, paymentId, 99_999)).toEqual([ScriptCode.OK, 'unknown']);
    expect(await unknownOf(raw, saleId)).toEqual({ [paymentId]: 99_999 });
  });

  test('a payment settled meanwhile, or not yet taken, is answered as it is and not scheduled', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const settled = await holdOrder(redis, saleId);
    const a = await payOrder(redis, settled);
    await takePayments(redis, saleId, 'standard', [{ paymentId: a.paymentId, orderId: settled.orderId }]);
    await settlePayment(redis, settled, a.paymentId, 'succeeded');
    expect(await markUnknown(redis, settled, a.paymentId, 1)).toEqual([ScriptCode.OK, 'succeeded']);

    const queued = await holdOrder(redis, saleId);
    const b = await payOrder(redis, queued);
    expect(await markUnknown(redis, queued, b.paymentId, 1)).toEqual([ScriptCode.OK, 'queued']);
    expect(await unknownOf(raw, saleId)).toEqual({});
    expect(await orderStatus(redis, settled)).toBe('paid');
  });
});

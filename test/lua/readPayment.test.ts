/**
 * lua/readPayment.lua — a payment and its lane's served count, from which its current place in
 * the lane follows (enqueued seq - served). Keys: payment, lanes. Arguments: userId.
 * Outcomes: OK (the payment, served), NOT_FOUND (another buyer's, or none). Read-only.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { holdOrder, openSale, type PaymentHash, payOrder, readPayment, ScriptCode, takePayments } from './kit.js';

describe('lua readPayment', () => {
  test('the buyer reads their payment and its place in the lane, which shrinks as the lane is served', async ({
    redis,
  }) => {
    const saleId = await openSale(redis);
    const first = await holdOrder(redis, saleId);
    const second = await holdOrder(redis, saleId);
    const p1 = await payOrder(redis, first);
    const p2 = await payOrder(redis, second, { method: 'alipay' });
    const read = await readPayment(redis, saleId, p2.paymentId, second.userId);
    expect(read.code).toBe(ScriptCode.OK);
    expect(read.payment).toMatchObject<PaymentHash>({
      status: 'queued',
      method: 'alipay',
      orderId: second.orderId,
      lane: 'standard',
    });
    expect({ served: read.served, position: read.position }).toEqual({ served: 0, position: 2 });
    await takePayments(redis, saleId, 'standard', [{ paymentId: p1.paymentId, orderId: first.orderId }]);
    expect((await readPayment(redis, saleId, p2.paymentId, second.userId)).position).toBe(1);
  });

  test('another buyer’s payment, or one that does not exist, is not found', async ({ redis }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    expect(await readPayment(redis, saleId, paymentId, unique('u'))).toEqual({ code: ScriptCode.NOT_FOUND });
    expect(await readPayment(redis, saleId, unique('pay'), order.userId)).toEqual({ code: ScriptCode.NOT_FOUND });
  });
});

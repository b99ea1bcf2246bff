/**
 * lua/takePayments.lua — a worker has read these payments from one lane: mark them processing.
 * Keys: the lanes' counters, then each payment and its order. Arguments: the lane, then the
 * payment ids. Outcome: OK with, per payment, { status, method, amount, currency, userId,
 * orderId, createdAt } (status false for a payment that does not exist).
 * A queued payment becomes processing and its lane's served count moves by one, so the
 * positions of the payments behind it shrink; a redelivered payment counts nothing twice.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  holdOrder,
  openSale,
  orderStatus,
  type PaymentHash,
  paymentStatusOnOrder,
  payOrder,
  readPayment,
  saleOf,
  ScriptCode,
  takePayments,
} from './kit.js';

describe('lua takePayments', () => {
  test('taking the head of a lane marks it processing and moves everyone behind it up by one', async ({ redis }) => {
    const saleId = await openSale(redis);
    const a = await holdOrder(redis, saleId);
    const b = await holdOrder(redis, saleId);
    const pa = await payOrder(redis, a, { method: 'alipay' });
    const pb = await payOrder(redis, b);
    expect((await readPayment(redis, saleId, pb.paymentId, b.userId)).position).toBe(2);

    const reply = await takePayments(redis, saleId, 'standard', [{ paymentId: pa.paymentId, orderId: a.orderId }]);
    expect(reply[0]).toBe(ScriptCode.OK);
    const [taken] = reply[1] as string[][];
    expect(taken!.slice(0, 6)).toEqual(['processing', 'alipay', '100', 'CNY', a.userId, a.orderId]);

    expect((await readPayment(redis, saleId, pa.paymentId, a.userId)).payment).toMatchObject<PaymentHash>({
      status: 'processing',
    });
    expect((await readPayment(redis, saleId, pb.paymentId, b.userId)).position).toBe(1);
    expect(await orderStatus(redis, a)).toBe('paying');
    expect(await paymentStatusOnOrder(redis, a)).toBe('processing');
  });

  test('a redelivered payment (already processing) is answered as it is and served once', async ({ redis }) => {
    const saleId = await openSale(redis);
    const a = await holdOrder(redis, saleId);
    const pa = await payOrder(redis, a);
    const taken = [{ paymentId: pa.paymentId, orderId: a.orderId }];
    await takePayments(redis, saleId, 'standard', taken);
    const again = await takePayments(redis, saleId, 'standard', taken);
    expect((again[1] as string[][])[0]![0]).toBe('processing');
    expect((await saleOf(redis, saleId)).lanes['standard:srv']).toBe('1');
  });

  test('lanes are served apart: taking from the priority lane moves no standard position', async ({ redis }) => {
    const saleId = await openSale(redis);
    const s = await holdOrder(redis, saleId);
    const p = await holdOrder(redis, saleId);
    const ps = await payOrder(redis, s);
    const pp = await payOrder(redis, p, { lane: 'priority' });
    await takePayments(redis, saleId, 'priority', [{ paymentId: pp.paymentId, orderId: p.orderId }]);
    expect((await readPayment(redis, saleId, ps.paymentId, s.userId)).position).toBe(1);
    expect((await saleOf(redis, saleId)).lanes).toMatchObject({ 'priority:srv': '1', 'standard:enq': '1' });
    expect((await saleOf(redis, saleId)).lanes['standard:srv']).toBeUndefined();
  });

  test('a payment that does not exist comes back with no status and moves no counter', async ({ redis }) => {
    const saleId = await openSale(redis);
    const reply = await takePayments(redis, saleId, 'standard', [{ paymentId: unique('pay'), orderId: unique('ord') }]);
    const [missing] = reply[1] as unknown[][];
    expect(missing![0]).toBeNull();
    expect((await saleOf(redis, saleId)).lanes['standard:srv']).toBeUndefined();
  });
});

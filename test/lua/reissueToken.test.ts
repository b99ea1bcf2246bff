/**
 * lua/reissueToken.lua — gives a held order a fresh single-use payment token; the previous
 * unused one stops working. Keys: order. Arguments: userId, nonce (the new token's).
 * Outcomes: OK (expiresAt), NOT_FOUND, PAYMENT_PENDING (paymentId), ORDER_PAID, ORDER_CLOSED.
 * Idempotent by nonce: a resend finds its nonce current.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  acceptPayment,
  cancelOrder,
  holdOrder,
  openSale,
  payOrder,
  readOrder,
  reissueToken,
  ScriptCode,
  settlePayment,
} from './kit.js';

describe('lua reissueToken', () => {
  test('the new token pays and the old one no longer does; the hold deadline does not move', async ({ redis }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const deadline = Number((await readOrder(redis, order)).order!.expiresAt);
    expect(await reissueToken(redis, order, 'fresh')).toEqual([ScriptCode.OK, deadline]);
    expect(await reissueToken(redis, order, 'fresh')).toEqual([ScriptCode.OK, deadline]);
    expect((await acceptPayment(redis, order)).reply).toEqual([ScriptCode.TOKEN_INVALID]);
    expect((await acceptPayment(redis, order, { nonce: 'fresh' })).reply[0]).toBe(ScriptCode.OK);
  });

  test('only the order’s buyer gets a token: another buyer is not found and the current token keeps working', async ({
    redis,
  }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    expect(await reissueToken(redis, order, 'stolen', unique('u'))).toEqual([ScriptCode.NOT_FOUND]);
    expect((await acceptPayment(redis, order, { nonce: 'stolen' })).reply).toEqual([ScriptCode.TOKEN_INVALID]);
    expect((await acceptPayment(redis, order)).reply[0]).toBe(ScriptCode.OK);
  });

  test('no token for an order being paid, paid, cancelled, or whose hold has passed', async ({ redis }) => {
    const saleId = await openSale(redis);
    const paying = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, paying);
    expect(await reissueToken(redis, paying, 'n')).toEqual([ScriptCode.PAYMENT_PENDING, paymentId]);
    await settlePayment(redis, paying, paymentId, 'succeeded');
    expect(await reissueToken(redis, paying, 'n')).toEqual([ScriptCode.ORDER_PAID]);

    const cancelled = await holdOrder(redis, saleId);
    await cancelOrder(redis, cancelled);
    expect(await reissueToken(redis, cancelled, 'n')).toEqual([ScriptCode.ORDER_CLOSED]);

    const passed = await holdOrder(redis, await openSale(redis, { holdSeconds: 0 }));
    expect(await reissueToken(redis, passed, 'n')).toEqual([ScriptCode.ORDER_CLOSED]);
  });
});

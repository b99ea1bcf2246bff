/**
 * lua/createOrder.lua — holds stock for one buyer's order, atomically.
 * Keys: sale, users, holds, order, idempotency, admission, userWindow, addressWindow.
 * Arguments: orderId, userId, quantity, nonce, fingerprint, idempotencyTtlMs, the per-second
 * admission and the two windows (their own test: windows.test.ts).
 * Outcomes: OK (amount, currency, expiresAt, available after, nonce), REPLAYED (the original
 * creation), SALE_NOT_FOUND, SALE_NOT_OPEN, SALE_CLOSED, SOLD_OUT, LIMIT_EXCEEDED,
 * IDEMPOTENCY_KEY_REUSED, RATE_LIMITED. Only OK holds anything.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import {
  createOrder,
  holdsOf,
  openSale,
  type OrderHash,
  putSale,
  readOrder,
  saleKeys,
  saleOf,
  ScriptCode,
  unitsOf,
} from './kit.js';

describe('lua createOrder', () => {
  test('an order holds its units: held rises, the buyer counts them, the hold deadline is the sale’s hold time on Redis time', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 5, price: 120, holdSeconds: 90 });
    const userId = unique('u');
    const { orderId, reply } = await createOrder(redis, saleId, userId, { quantity: 2, nonce: 'n1' });
    const [code, amount, currency, expiresAt, availableAfter, nonce] = reply;
    expect({ code, amount, currency, availableAfter, nonce }).toEqual({
      code: ScriptCode.OK,
      amount: 240,
      currency: 'CNY',
      availableAfter: 3,
      nonce: 'n1',
    });
    const view = await saleOf(redis, saleId);
    expect({ held: view.held, available: view.available, orders: view.orders }).toEqual({
      held: 2,
      available: 3,
      orders: 1,
    });
    expect(await unitsOf(raw, saleId, userId)).toBe(2);
    expect(await holdsOf(raw, saleId)).toEqual([orderId]);
    const read = await readOrder(redis, { saleId, orderId, userId, nonce: 'n1', quantity: 2 });
    expect(read.order).toMatchObject<OrderHash>({ status: 'held', quantity: '2', amount: '240' });
    const createdAt = Number(read.order!.createdAt);
    expect(Number(expiresAt) - createdAt).toBe(90_000);
  });

  test('a resend of the same call (same order id) answers the same order and holds nothing twice', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 5 });
    const userId = unique('u');
    const first = await createOrder(redis, saleId, userId, { nonce: 'n1' });
    const again = await createOrder(redis, saleId, userId, { orderId: first.orderId, nonce: 'n2' });
    const [, amount, currency, expiresAt, , nonce] = first.reply;
    // the replay reads the stored order back: the same values, as Redis returns them (strings)
    expect(again.reply.map(String)).toEqual(
      [ScriptCode.REPLAYED, first.orderId, 1, amount, currency, expiresAt, nonce].map(String),
    );
    expect((await saleOf(redis, saleId)).held).toBe(1);
    expect(await unitsOf(raw, saleId, userId)).toBe(1);
  });

  test('an Idempotency-Key replay with the same request answers the original order; another request under it is refused', async ({
    redis,
  }) => {
    const saleId = await openSale(redis, { stock: 5 });
    const userId = unique('u');
    const idempotency = { key: 'k1', fingerprint: 'fp-a' };
    const first = await createOrder(redis, saleId, userId, { idempotency, nonce: 'n1' });
    expect(first.reply[0]).toBe(ScriptCode.OK);
    const replay = await createOrder(redis, saleId, userId, { idempotency, nonce: 'n2' });
    expect(replay.reply.slice(0, 3)).toEqual([ScriptCode.REPLAYED, first.orderId, 1]);
    expect(replay.reply[6]).toBe('n1');
    const reused = await createOrder(redis, saleId, userId, { idempotency: { key: 'k1', fingerprint: 'fp-b' } });
    expect(reused.reply).toEqual([ScriptCode.IDEMPOTENCY_KEY_REUSED]);
    expect((await saleOf(redis, saleId)).held).toBe(1);
    // the same key from another buyer is that buyer's own key
    expect(
      (await createOrder(redis, saleId, unique('u'), { idempotency: { key: 'k1', fingerprint: 'fp-b' } })).reply[0],
    ).toBe(ScriptCode.OK);
  });

  test('sold out: refused with what is left, nothing held', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { stock: 3, perUserLimit: 5 });
    await createOrder(redis, saleId, unique('u'), { quantity: 2 });
    const userId = unique('u');
    const { orderId, reply } = await createOrder(redis, saleId, userId, { quantity: 2 });
    expect(reply).toEqual([ScriptCode.SOLD_OUT, 1]);
    expect((await saleOf(redis, saleId)).held).toBe(2);
    expect(await unitsOf(raw, saleId, userId)).toBe(0);
    expect(await holdsOf(raw, saleId)).not.toContain(orderId);
    expect((await createOrder(redis, saleId, userId, { quantity: 1 })).reply[0]).toBe(ScriptCode.OK);
    expect((await createOrder(redis, saleId, unique('u'))).reply).toEqual([ScriptCode.SOLD_OUT, 0]);
  });

  test('a buyer may hold at most the per-buyer limit over all their orders', async ({ redis, raw }) => {
    const saleId = await openSale(redis, { stock: 10, perUserLimit: 3 });
    const userId = unique('u');
    expect((await createOrder(redis, saleId, userId, { quantity: 2 })).reply[0]).toBe(ScriptCode.OK);
    expect((await createOrder(redis, saleId, userId, { quantity: 2 })).reply).toEqual([
      ScriptCode.LIMIT_EXCEEDED,
      2,
      3,
    ]);
    expect(await unitsOf(raw, saleId, userId)).toBe(2);
    expect((await createOrder(redis, saleId, userId, { quantity: 1 })).reply[0]).toBe(ScriptCode.OK);
  });

  test('a sale that does not exist, is not open yet or has closed refuses and holds nothing', async ({
    redis,
    raw,
  }) => {
    const missing = unique('nosale');
    expect((await createOrder(redis, missing, unique('u'))).reply).toEqual([ScriptCode.SALE_NOT_FOUND]);
    expect(await saleKeys(raw, missing)).toEqual([]);

    const [seconds] = await raw.time();
    const opensAt = Number(seconds) * 1000 + 3_600_000;
    const later = await openSale(redis, { opensAt });
    const notOpen = await createOrder(redis, later, unique('u'));
    expect(notOpen.reply[0]).toBe(ScriptCode.SALE_NOT_OPEN);
    expect(notOpen.reply[1]).toBe(opensAt);
    expect(Number(notOpen.reply[2])).toBeLessThan(opensAt);

    const closing = await openSale(redis);
    const { sale } = await saleOf(redis, closing);
    // closes 1 ms after it opened; Redis's clock is let pass that millisecond, which a fast
    // machine can still be in after these few round trips
    const closesAt = Number(sale.opensAt) + 1;
    await putSale(redis, closing, { closesAt });
    for (;;) {
      const [s, us] = await raw.time();
      if (Number(s) * 1000 + Math.floor(Number(us) / 1000) >= closesAt) break;
      await new Promise((r) => setTimeout(r, 1));
    }
    expect((await createOrder(redis, closing, unique('u'))).reply).toEqual([ScriptCode.SALE_CLOSED]);
    for (const saleId of [later, closing]) {
      const view = await saleOf(redis, saleId);
      expect({ held: view.held, orders: view.orders }).toEqual({ held: 0, orders: 0 });
    }
  });

  test('the per-second admission refuses past its count with the ms until the next second; a dry run refuses nobody', async ({
    redis,
  }) => {
    const saleId = await openSale(redis, { stock: 10, perUserLimit: 10 });
    const refused = await createOrder(redis, saleId, unique('u'), { perSecond: 0 });
    expect(refused.reply.slice(0, 2)).toEqual([ScriptCode.RATE_LIMITED, 'perSale']);
    expect(Number(refused.reply[2])).toBeGreaterThan(0);
    expect(Number(refused.reply[2])).toBeLessThanOrEqual(1000);
    expect((await saleOf(redis, saleId)).held).toBe(0);
    expect((await createOrder(redis, saleId, unique('u'), { perSecond: 0, perSecondDryRun: true })).reply[0]).toBe(
      ScriptCode.OK,
    );
    expect((await saleOf(redis, saleId)).dryRunRefusals).toBe(1);
  });
});

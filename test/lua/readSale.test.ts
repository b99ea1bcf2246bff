/**
 * lua/readSale.lua — a sale, its lane counters and its dry-run refusals in one read, with Redis
 * time. Keys: sale, lanes, admission. Outcomes: OK (sale, nowMs, lanes, dry-run refusals),
 * SALE_NOT_FOUND. Read-only: it writes nothing, not even for a sale that does not exist.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { createOrder, holdOrder, openSale, payOrder, readSale, saleKeys, saleOf, ScriptCode } from './kit.js';

describe('lua readSale', () => {
  test('a sale that does not exist is not found and leaves no key behind', async ({ redis, raw }) => {
    const saleId = unique('nosale');
    expect(await readSale(redis, saleId)).toEqual({ code: ScriptCode.SALE_NOT_FOUND });
    expect(await saleKeys(raw, saleId)).toEqual([]);
  });

  test('counters, lane counters and Redis time come from one snapshot: available + held + sold = stock', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis, { stock: 6 });
    const order = await holdOrder(redis, saleId, { quantity: 2 });
    await payOrder(redis, order);
    await holdOrder(redis, saleId);
    const view = await saleOf(redis, saleId);
    expect({ available: view.available, held: view.held, sold: view.sold, orders: view.orders }).toEqual({
      available: 3,
      held: 3,
      sold: 0,
      orders: 2,
    });
    expect(view.lanes).toMatchObject({ 'standard:enq': '1' });
    const [seconds] = await raw.time();
    expect(Math.abs(view.nowMs - Number(seconds) * 1000)).toBeLessThan(5_000);
  });

  test('dry-run refusals of the per-second admission are reported', async ({ redis }) => {
    const saleId = await openSale(redis, { stock: 10, perUserLimit: 10 });
    expect((await saleOf(redis, saleId)).dryRunRefusals).toBe(0);
    // a per-second limit of 0 in dry run: every call is a would-be refusal, none refused
    for (let i = 0; i < 2; i++) {
      const { reply } = await createOrder(redis, saleId, unique('u'), { perSecond: 0, perSecondDryRun: true });
      expect(reply[0]).toBe(ScriptCode.OK);
    }
    expect((await saleOf(redis, saleId)).dryRunRefusals).toBe(2);
  });
});

/**
 * lua/putSale.lua — creates a sale, or updates the fields given.
 * Keys: sale, lanes. Arguments: defaults (JSON), given fields (JSON).
 * Outcomes: OK (created 1 | 0, the sale, Redis time, lane counters), MISSING_FIELDS,
 * STOCK_CONFLICT (held + sold), SALE_LOCKED, INVALID_WINDOW. A refusal writes nothing.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { holdOrder, openSale, putSale, SALE_DEFAULTS, saleKeys, saleOf, ScriptCode } from './kit.js';

describe('lua putSale', () => {
  test('a new sale takes the defaults for fields not given, opens now, and holds nothing', async ({ redis }) => {
    const saleId = unique('sale');
    const reply = await putSale(redis, saleId, { stock: 7, price: 250, currency: 'CNY' });
    expect(reply.slice(0, 2)).toEqual([ScriptCode.OK, 1]);
    const view = await saleOf(redis, saleId);
    expect(view.sale).toMatchObject({ name: SALE_DEFAULTS.name, perUserLimit: '5', holdSeconds: '300', closesAt: '' });
    expect({ available: view.available, held: view.held, sold: view.sold }).toEqual({ available: 7, held: 0, sold: 0 });
    expect(Number(view.sale.opensAt)).toBeLessThanOrEqual(view.nowMs);
  });

  test('a new sale without stock, price or currency is refused and nothing is written', async ({ redis, raw }) => {
    for (const given of [
      { price: 1, currency: 'CNY' },
      { stock: 1, currency: 'CNY' },
      { stock: 1, price: 1 },
    ]) {
      const saleId = unique('sale');
      expect(await putSale(redis, saleId, given)).toEqual([ScriptCode.MISSING_FIELDS]);
      expect(await saleKeys(raw, saleId)).toEqual([]);
    }
  });

  test('writing the same fields twice leaves the same sale (idempotent), answered as not created', async ({
    redis,
  }) => {
    const saleId = unique('sale');
    const given = { stock: 3, price: 10, currency: 'EUR', name: 'twice' };
    await putSale(redis, saleId, given);
    const before = await saleOf(redis, saleId);
    const again = await putSale(redis, saleId, given);
    expect(again.slice(0, 2)).toEqual([ScriptCode.OK, 0]);
    const after = await saleOf(redis, saleId);
    const { updatedAt: _a, ...stable } = after.sale;
    const { updatedAt: _b, ...stableBefore } = before.sale;
    expect(stable).toEqual(stableBefore);
  });

  test('an update keeps the fields it does not give', async ({ redis }) => {
    const saleId = await openSale(redis, { stock: 5, perUserLimit: 2, name: 'kept' });
    await putSale(redis, saleId, { stock: 9 });
    const view = await saleOf(redis, saleId);
    expect(view.sale).toMatchObject({ stock: '9', perUserLimit: '2', name: 'kept', price: '100', currency: 'CNY' });
  });

  test('stock may not fall below held + sold: refused with what is committed, stock unchanged', async ({ redis }) => {
    const saleId = await openSale(redis, { stock: 5 });
    await holdOrder(redis, saleId, { quantity: 3 });
    expect(await putSale(redis, saleId, { stock: 2 })).toEqual([ScriptCode.STOCK_CONFLICT, 3]);
    expect((await saleOf(redis, saleId)).sale.stock).toBe('5');
    expect((await putSale(redis, saleId, { stock: 3 }))[0]).toBe(ScriptCode.OK);
    expect((await saleOf(redis, saleId)).available).toBe(0);
  });

  test('price and currency are fixed once the sale has an order, free before', async ({ redis }) => {
    const saleId = await openSale(redis, { price: 100 });
    expect((await putSale(redis, saleId, { price: 120 }))[0]).toBe(ScriptCode.OK);
    await holdOrder(redis, saleId);
    expect(await putSale(redis, saleId, { price: 150 })).toEqual([ScriptCode.SALE_LOCKED]);
    expect(await putSale(redis, saleId, { currency: 'USD' })).toEqual([ScriptCode.SALE_LOCKED]);
    expect((await saleOf(redis, saleId)).sale).toMatchObject({ price: '120', currency: 'CNY' });
    // the same price again is no change
    expect((await putSale(redis, saleId, { price: 120, stock: 11 }))[0]).toBe(ScriptCode.OK);
  });

  test('a window that closes before it opens is refused; null clears the closing time', async ({ redis }) => {
    const saleId = await openSale(redis);
    const opensAt = Number((await saleOf(redis, saleId)).sale.opensAt);
    expect(await putSale(redis, saleId, { closesAt: opensAt })).toEqual([ScriptCode.INVALID_WINDOW]);
    expect(await putSale(redis, saleId, { opensAt: opensAt + 10_000, closesAt: opensAt + 5_000 })).toEqual([
      ScriptCode.INVALID_WINDOW,
    ]);
    expect((await saleOf(redis, saleId)).sale.closesAt).toBe('');
    expect((await putSale(redis, saleId, { closesAt: opensAt + 60_000 }))[0]).toBe(ScriptCode.OK);
    expect((await saleOf(redis, saleId)).sale.closesAt).toBe(String(opensAt + 60_000));
    expect((await putSale(redis, saleId, { closesAt: null }))[0]).toBe(ScriptCode.OK);
    expect((await saleOf(redis, saleId)).sale.closesAt).toBe('');
  });
});

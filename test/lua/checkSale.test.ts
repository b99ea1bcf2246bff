/**
 * lua/checkSale.lua — answers what putSale would for the same fields, and writes nothing.
 * Key: sale. Arguments: defaults (JSON), given fields (JSON).
 * Outcomes: OK (created 1 | 0), MISSING_FIELDS, STOCK_CONFLICT (held + sold), SALE_LOCKED,
 * INVALID_WINDOW: the same as putSale's for every case putSale's own test states.
 */
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { checkSale, holdOrder, openSale, putSale, saleKeys, saleOf, ScriptCode } from './kit.js';

describe('lua checkSale', () => {
  test('a new sale: OK, created, and nothing is written; refused without stock, price or currency', async ({
    redis,
    raw,
  }) => {
    const saleId = unique('sale');
    expect(await checkSale(redis, saleId, { stock: 7, price: 250, currency: 'CNY' })).toEqual([ScriptCode.OK, 1]);
    expect(await checkSale(redis, saleId, { stock: 7, price: 250 })).toEqual([ScriptCode.MISSING_FIELDS]);
    expect(await saleKeys(raw, saleId)).toEqual([]);
  });

  test('an existing sale: answers as putSale would, and leaves the sale as it was', async ({ redis }) => {
    const saleId = await openSale(redis, { stock: 5, price: 100 });
    await holdOrder(redis, saleId, { quantity: 3 });
    const before = (await saleOf(redis, saleId)).sale;
    const cases = [{ stock: 9 }, { stock: 2 }, { price: 150 }, { currency: 'USD' }, { closesAt: 1 }, { name: 'x' }];
    for (const given of cases) await checkSale(redis, saleId, given);
    expect((await saleOf(redis, saleId)).sale).toEqual(before);
    expect(await checkSale(redis, saleId, { stock: 9 })).toEqual([ScriptCode.OK, 0]);
    expect(await checkSale(redis, saleId, { stock: 2 })).toEqual([ScriptCode.STOCK_CONFLICT, 3]);
    expect(await checkSale(redis, saleId, { price: 150 })).toEqual([ScriptCode.SALE_LOCKED]);
    expect(await checkSale(redis, saleId, { closesAt: 1 })).toEqual([ScriptCode.INVALID_WINDOW]);
    // and putSale agrees with each answer
    for (const given of cases) {
      const checked = await checkSale(redis, saleId, given);
      expect((await putSale(redis, saleId, given)).slice(0, checked.length), JSON.stringify(given)).toEqual(checked);
    }
  });
});

/**
 * lua/listSale.lua — adds a sale id to the index of every sale. Key: sales. Argument: saleId.
 * Outcome: OK with 1 when newly listed, 0 when it was already. Nothing else is written: the
 * sale itself is putSale's.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { listSale, saleKeys, ScriptCode } from './kit.js';

describe('lua listSale', () => {
  test('lists the id once, and writes nothing of the sale', async ({ redis, raw }) => {
    const saleId = unique('sale');
    expect(await listSale(redis, saleId)).toEqual([ScriptCode.OK, 1]);
    expect(await listSale(redis, saleId)).toEqual([ScriptCode.OK, 0]);
    expect(await raw.sismember(keys.sales, saleId)).toBe(1);
    expect(await saleKeys(raw, saleId)).toEqual([]);
  });
});

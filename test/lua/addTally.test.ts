/**
 * lua/addTally.lua — adds one gateway's counts of the last second to a sale's tally (decisions
 * by reason, payment outcomes) and to its per-second history (the last 900 s, with the seats
 * held and sold; readOpsView.test.ts reads it back). Keys: sale, tally, history. Arguments:
 * field, count, field, count, … Outcomes: OK, SALE_NOT_FOUND (counts for a sale that does not
 * exist are dropped, so made-up sale ids in request paths leave nothing behind).
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { addTally, openSale, saleKeys, ScriptCode } from './kit.js';

describe('lua addTally', () => {
  test('counts from several gateways add up per field', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    expect(await addTally(redis, saleId, { 'order:accepted': 3, 'order:sold_out': 1 })).toEqual([ScriptCode.OK]);
    expect(await addTally(redis, saleId, { 'order:accepted': 2, 'payment:succeeded': 4 })).toEqual([ScriptCode.OK]);
    expect(await raw.hgetall(keys.tally(saleId))).toEqual({
      'order:accepted': '5',
      'order:sold_out': '1',
      'payment:succeeded': '4',
    });
  });

  test('counts for a sale that does not exist are dropped and leave no key', async ({ redis, raw }) => {
    const ghost = unique('ghost');
    expect(await addTally(redis, ghost, { 'order:sale_not_found': 7 })).toEqual([ScriptCode.SALE_NOT_FOUND]);
    expect(await saleKeys(raw, ghost)).toEqual([]);
  });
});

/**
 * lua/adoptListedSales.lua — adds the sales given to the active index at generation 1, unless
 * listed already. Key: active. Arguments: the sale ids. Outcome: OK with how many were adopted;
 * a sale already listed keeps its generation.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { adoptListedSales, joinActiveSales, ScriptCode } from './kit.js';

describe('lua adoptListedSales', () => {
  test('adopts the sales not listed, at generation 1; a listed one keeps its generation', async ({ redis, raw }) => {
    const listed = unique('sale');
    await joinActiveSales(redis, listed);
    await joinActiveSales(redis, listed);
    const fresh = [unique('sale'), unique('sale')];
    expect(await adoptListedSales(redis, [listed, ...fresh])).toEqual([ScriptCode.OK, 2]);
    expect(await raw.zmscore(keys.activeSales, listed, ...fresh)).toEqual(['2', '1', '1']);
  });
});

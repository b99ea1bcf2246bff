/**
 * lua/joinActiveSales.lua — lists a sale in the active index, moving its generation each time.
 * Key: active. Argument: saleId. Outcome: OK with the generation now (1 when newly listed).
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { joinActiveSales, ScriptCode } from './kit.js';

describe('lua joinActiveSales', () => {
  test('a new sale joins at generation 1; each join after moves its generation', async ({ redis, raw }) => {
    const saleId = unique('sale');
    expect(await joinActiveSales(redis, saleId)).toEqual([ScriptCode.OK, 1]);
    expect(await joinActiveSales(redis, saleId)).toEqual([ScriptCode.OK, 2]);
    expect(await raw.zscore(keys.activeSales, saleId)).toBe('2');
  });
});

/**
 * lua/leaveActiveSales.lua — takes a sale out of the active index only if its generation is the
 * one given. Key: active. Arguments: saleId, generation. Outcome: OK with 1 when it left, 0 when
 * its generation had moved (a PUT meanwhile) or it was not listed.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { joinActiveSales, leaveActiveSales, ScriptCode } from './kit.js';

describe('lua leaveActiveSales', () => {
  test('leaves at the generation read; stays when a join moved it since', async ({ redis, raw }) => {
    const saleId = unique('sale');
    const read = Number((await joinActiveSales(redis, saleId))[1]);
    await joinActiveSales(redis, saleId);
    expect(await leaveActiveSales(redis, saleId, read)).toEqual([ScriptCode.OK, 0]);
    expect(await raw.zscore(keys.activeSales, saleId)).toBe(String(read + 1));
    expect(await leaveActiveSales(redis, saleId, read + 1)).toEqual([ScriptCode.OK, 1]);
    expect(await raw.zscore(keys.activeSales, saleId)).toBeNull();
    expect(await leaveActiveSales(redis, saleId, read + 1)).toEqual([ScriptCode.OK, 0]);
  });
});

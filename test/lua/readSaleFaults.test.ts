/**
 * lua/readSaleFaults.lua — a sale's payments marked for review, and whether an oversell was
 * detected, in one read. Keys: review, oversell. Outcome: OK with the review count and 1 | 0.
 * Changes nothing.
 */
import { keys } from '../../src/redis/keys.js';
import { callScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import type { RedisPort } from '../../src/redis/port.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { ScriptCode } from './kit.js';

const readSaleFaults = (redis: RedisPort, saleId: string) =>
  callScript(redis, scripts.readSaleFaults, { review: keys.review(saleId), oversell: keys.oversell(saleId) }, {});

describe('lua readSaleFaults', () => {
  test('nothing recorded: 0 and 0; then the review count and the oversell alarm', async ({ redis, raw }) => {
    const saleId = unique('sale');
    expect(await readSaleFaults(redis, saleId)).toEqual([ScriptCode.OK, 0, 0]);
    await raw.zadd(keys.review(saleId), 1, 'pay_a', 2, 'pay_b', 3, 'pay_c');
    expect(await readSaleFaults(redis, saleId)).toEqual([ScriptCode.OK, 3, 0]);
    // the alarm is the reconciler's detectedAt; a record without it is no alarm
    await raw.hset(keys.oversell(saleId), { refunded: 0 });
    expect(await readSaleFaults(redis, saleId)).toEqual([ScriptCode.OK, 3, 0]);
    await raw.hset(keys.oversell(saleId), { charges: 11, seats: 10, detectedAt: 1 });
    expect(await readSaleFaults(redis, saleId)).toEqual([ScriptCode.OK, 3, 1]);
  });
});

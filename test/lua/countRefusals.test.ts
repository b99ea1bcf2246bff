/**
 * lua/countRefusals.lua — adds buyers' recent rate-limit refusals to their tallies; a buyer
 * refused `threshold` times within `windowMs` is blocked for `blockMs`.
 * Keys: blocklist, block reasons, then each buyer's tally. Arguments: threshold, windowMs,
 * blockMs, then userId and refusals per buyer. Outcome: OK with the buyers blocked now.
 * A tally expires with its window; an automatic block never shortens a longer one, nor
 * replaces its reason.
 */
import type { RedisPort } from '../../src/redis/port.js';
import { keys } from '../../src/redis/keys.js';
import { runScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { unique } from '../support/names.js';
import { redisNow, ScriptCode } from './kit.js';

const rule = { threshold: 5, windowMs: 60_000, blockMs: 120_000 };

const countRefusals = (redis: RedisPort, tallies: Record<string, number>, r = rule) =>
  runScript(
    redis,
    scripts.countRefusals,
    [keys.blocklist, keys.blockReasons, ...Object.keys(tallies).map((userId) => keys.refusalTally(userId))],
    [r.threshold, r.windowMs, r.blockMs, ...Object.entries(tallies).flat()],
  );

// the blocklist is shared by every gateway on a Redis: these tests run on a redis-server of their own
usePrivateRedis();

describe('lua countRefusals', () => {
  test('refusals add up across flushes; the buyer is blocked for blockMs once they reach the threshold', async ({
    redis,
    raw,
  }) => {
    const userId = unique('u');
    expect(await countRefusals(redis, { [userId]: 3 })).toEqual([ScriptCode.OK, []]);
    expect(await raw.zscore(keys.blocklist, userId)).toBeNull();
    const pttl = await raw.pttl(keys.refusalTally(userId));
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(rule.windowMs);

    const before = await redisNow(raw);
    expect(await countRefusals(redis, { [userId]: 2 })).toEqual([ScriptCode.OK, [userId]]);
    const until = Number(await raw.zscore(keys.blocklist, userId));
    expect(until).toBeGreaterThanOrEqual(before + rule.blockMs);
    expect(until).toBeLessThanOrEqual((await redisNow(raw)) + rule.blockMs);
    expect(await raw.hget(keys.blockReasons, userId)).toMatch(/^automatic: 5 refusals within 60 s$/);
    // the tally starts again from zero
    expect(await raw.exists(keys.refusalTally(userId))).toBe(0);
  });

  test('each buyer is counted apart; only those at the threshold are blocked', async ({ redis, raw }) => {
    const calm = unique('u');
    const noisy = unique('u');
    expect(await countRefusals(redis, { [calm]: 1, [noisy]: 9 })).toEqual([ScriptCode.OK, [noisy]]);
    expect(await raw.zscore(keys.blocklist, calm)).toBeNull();
    expect(await raw.get(keys.refusalTally(calm))).toBe('1');
  });

  test('an automatic block never shortens a longer block in place, nor replaces its reason', async ({ redis, raw }) => {
    const userId = unique('u');
    const farFuture = (await redisNow(raw)) + 86_400_000;
    await raw.zadd(keys.blocklist, farFuture, userId);
    await raw.hset(keys.blockReasons, userId, 'manual: fraud review');
    expect(await countRefusals(redis, { [userId]: 10 })).toEqual([ScriptCode.OK, [userId]]);
    expect(Number(await raw.zscore(keys.blocklist, userId))).toBe(farFuture);
    expect(await raw.hget(keys.blockReasons, userId)).toBe('manual: fraud review');
  });
});

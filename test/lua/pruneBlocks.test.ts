/**
 * lua/pruneBlocks.lua — drops the blocks that have ended on Redis time, with their reasons, at
 * most `limit` per call. Keys: blocked, reasons (the kind's own pair). Argument: limit.
 * Outcome: OK with the number dropped. Blocks still in force, and their reasons, stay.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { unique } from '../support/names.js';
import { pruneBlocks, putBlock, redisNow, ScriptCode } from './kit.js';

// a prune drops every ended block on its Redis: these tests count on a redis-server of their own
usePrivateRedis();

describe('lua pruneBlocks', () => {
  test('ended blocks and their reasons go; blocks in force and their reasons stay', async ({ redis, raw }) => {
    const nowMs = await redisNow(raw);
    const ended = [unique('u'), unique('u')];
    const live = unique('u');
    for (const userId of ended) {
      await raw.zadd(keys.blocklist, nowMs - 1000, userId);
      await raw.hset(keys.blockReasons, userId, 'automatic: 5 refusals within 60 s');
    }
    await putBlock(redis, 'user', live, 600_000, 'bot');
    expect(await pruneBlocks(redis, 'user', 100)).toEqual([ScriptCode.OK, 2]);
    expect(await raw.zrange(keys.blocklist, 0, -1)).toEqual([live]);
    expect(await raw.hkeys(keys.blockReasons)).toEqual([live]);
    expect(await pruneBlocks(redis, 'user', 100)).toEqual([ScriptCode.OK, 0]);
  });

  test('at most `limit` per call, oldest first; the address blocklist is pruned apart', async ({ redis, raw }) => {
    const nowMs = await redisNow(raw);
    const ended = Array.from({ length: 1200 }, (_, i) => [nowMs - 10_000 + i, unique('a')] as const);
    await raw.zadd(keys.blockedAddresses, ...ended.flat());
    await raw.hset(keys.blockedAddressReasons, Object.fromEntries(ended.map(([, a]) => [a, 'abuse'])));
    const user = unique('u');
    await raw.zadd(keys.blocklist, nowMs - 1000, user);
    expect(await pruneBlocks(redis, 'address', 1000)).toEqual([ScriptCode.OK, 1000]);
    expect(await raw.zrange(keys.blockedAddresses, 0, -1)).toEqual(ended.slice(1000).map(([, a]) => a));
    expect(await raw.hlen(keys.blockedAddressReasons)).toBe(200);
    expect(await pruneBlocks(redis, 'address', 1000)).toEqual([ScriptCode.OK, 200]);
    expect(await raw.exists(keys.blockedAddresses, keys.blockedAddressReasons)).toBe(0);
    expect(await raw.zscore(keys.blocklist, user)).not.toBeNull();
  });
});

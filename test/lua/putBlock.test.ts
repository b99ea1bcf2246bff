/**
 * lua/putBlock.lua — blocks a buyer or an address until Redis time + blockMs, with its reason,
 * in one step. Keys: blocked, reasons (the kind's own pair). Arguments: id, blockMs, reason.
 * Outcome: OK with the time the block ends (ms). A new block replaces the one in place, longer
 * or shorter, and its reason.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { putBlock, redisNow, ScriptCode } from './kit.js';

describe('lua putBlock', () => {
  test('a buyer is blocked until Redis time + blockMs, its reason beside the block', async ({ redis, raw }) => {
    const userId = unique('u');
    const before = await redisNow(raw);
    const reply = await putBlock(redis, 'user', userId, 600_000, 'bot');
    expect(reply[0]).toBe(ScriptCode.OK);
    const untilMs = Number(reply[1]);
    expect(untilMs).toBeGreaterThanOrEqual(before + 600_000);
    expect(untilMs).toBeLessThanOrEqual((await redisNow(raw)) + 600_000);
    expect(Number(await raw.zscore(keys.blocklist, userId))).toBe(untilMs);
    expect(await raw.hget(keys.blockReasons, userId)).toBe('bot');
  });

  test('an address goes to the address blocklist and its own reasons, never the buyers', async ({ redis, raw }) => {
    // a userId may be written like an IPv4 address: the two kinds must not share a key
    const address = unique('198.51.100.7');
    const reply = await putBlock(redis, 'address', address, 60_000, 'abuse');
    expect(Number(await raw.zscore(keys.blockedAddresses, address))).toBe(Number(reply[1]));
    expect(await raw.hget(keys.blockedAddressReasons, address)).toBe('abuse');
    expect(await raw.zscore(keys.blocklist, address)).toBeNull();
    expect(await raw.hget(keys.blockReasons, address)).toBeNull();
  });

  test('a new block replaces the one in place, shorter too, and its reason; no reason given is empty', async ({
    redis,
    raw,
  }) => {
    const userId = unique('u');
    await putBlock(redis, 'user', userId, 86_400_000, 'fraud review');
    const shorter = Number((await putBlock(redis, 'user', userId, 1_000))[1]);
    expect(Number(await raw.zscore(keys.blocklist, userId))).toBe(shorter);
    expect(shorter).toBeLessThan((await redisNow(raw)) + 2_000);
    expect(await raw.hget(keys.blockReasons, userId)).toBe('');
  });
});

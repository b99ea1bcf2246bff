/**
 * lua/liftBlock.lua — lifts a buyer's or an address's block and drops its reason, in one step.
 * Keys: blocked, reasons (the kind's own pair). Argument: id. Outcome: OK with 1 when a block
 * was lifted, 0 when none was in place (and nothing changes).
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';
import { liftBlock, putBlock, ScriptCode } from './kit.js';

describe('lua liftBlock', () => {
  test('the block and its reason go together; other blocks stay', async ({ redis, raw }) => {
    const lifted = unique('u');
    const kept = unique('u');
    await putBlock(redis, 'user', lifted, 60_000, 'bot');
    await putBlock(redis, 'user', kept, 60_000, 'bot too');
    expect(await liftBlock(redis, 'user', lifted)).toEqual([ScriptCode.OK, 1]);
    expect(await raw.zscore(keys.blocklist, lifted)).toBeNull();
    expect(await raw.hget(keys.blockReasons, lifted)).toBeNull();
    expect(await raw.zscore(keys.blocklist, kept)).not.toBeNull();
    expect(await raw.hget(keys.blockReasons, kept)).toBe('bot too');
  });

  test('an address is lifted from its own blocklist; lifting twice answers 0 the second time', async ({
    redis,
    raw,
  }) => {
    const address = unique('a');
    await putBlock(redis, 'address', address, 60_000, 'abuse');
    expect(await liftBlock(redis, 'address', address)).toEqual([ScriptCode.OK, 1]);
    expect(await raw.zscore(keys.blockedAddresses, address)).toBeNull();
    expect(await raw.hget(keys.blockedAddressReasons, address)).toBeNull();
    expect(await liftBlock(redis, 'address', address)).toEqual([ScriptCode.OK, 0]);
  });
});

/**
 * lua/countDryRunRefusal.lua — counts one would-be refusal of a dry-run policy that names no
 * sale, under one policies version. Key: dryRun (the version's hash). Argument: policy.
 * Outcome: OK with the policy's count so far. Each version and each policy counts apart.
 */
import { keys } from '../../src/redis/keys.js';
import { callScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import type { RedisPort } from '../../src/redis/port.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { ScriptCode } from './kit.js';

const count = (redis: RedisPort, version: number, policy: string) =>
  callScript(redis, scripts.countDryRunRefusal, { dryRun: keys.limitsDryRun(version) }, { policy });

// the dry-run counts are per policies version, shared by every gateway: a redis-server of its own
usePrivateRedis();

describe('lua countDryRunRefusal', () => {
  test('counts add up per version and per policy', async ({ redis, raw }) => {
    expect(await count(redis, 7, 'others.perUser')).toEqual([ScriptCode.OK, 1]);
    expect(await count(redis, 7, 'others.perUser')).toEqual([ScriptCode.OK, 2]);
    expect(await count(redis, 7, 'others.perAddress')).toEqual([ScriptCode.OK, 1]);
    expect(await count(redis, 8, 'others.perUser')).toEqual([ScriptCode.OK, 1]);
    expect(await raw.hgetall(keys.limitsDryRun(7))).toEqual({ 'others.perUser': '2', 'others.perAddress': '1' });
  });
});

/**
 * lua/putLimits.lua — installs a new version of the rate-limit policies and records it in the
 * history (newest first, at most historyKept entries). Keys: current, history. Arguments:
 * policies (JSON), changes (JSON), historyKept, expectedVersion ('' = any).
 * Outcomes: OK (version, updatedAt), VERSION_CONFLICT (the current version): a stale writer
 * changes nothing.
 */
import type { RedisPort } from '../../src/redis/port.js';
import { keys } from '../../src/redis/keys.js';
import { callScript } from '../../src/redis/run-script.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { ScriptCode } from './kit.js';

const put = (redis: RedisPort, policies: object, expectedVersion?: number, historyKept = 3) =>
  callScript(
    redis,
    scripts.putLimits,
    { current: keys.limits, history: keys.limitsHistory },
    { policies: JSON.stringify(policies), changes: JSON.stringify({ set: policies }), historyKept, expectedVersion },
  );

// the policies are shared by every gateway on a Redis: this file runs on a redis-server of its own
usePrivateRedis();

describe('lua putLimits', () => {
  test('each write is the next version, recorded newest first; the history keeps the last historyKept', async ({
    redis,
    raw,
  }) => {
    const versions: number[] = [];
    for (let i = 1; i <= 4; i++) {
      const reply = await put(redis, { n: i });
      expect(reply[0]).toBe(ScriptCode.OK);
      versions.push(Number(reply[1]));
    }
    expect(versions).toEqual([versions[0], versions[0]! + 1, versions[0]! + 2, versions[0]! + 3]);
    const current = await raw.hgetall(keys.limits);
    expect(current).toMatchObject({ version: String(versions[3]), policies: JSON.stringify({ n: 4 }) });
    const history = (await raw.lrange(keys.limitsHistory, 0, -1)).map((entry) => JSON.parse(entry));
    expect(history.map((h) => h.version)).toEqual([versions[3], versions[2], versions[1]]);
    expect(history[0]).toMatchObject({ policies: { n: 4 }, changes: { set: { n: 4 } } });
  });

  test('a writer that expects a stale version is refused with the current one and changes nothing', async ({
    redis,
    raw,
  }) => {
    const installed = Number((await put(redis, { a: 1 }))[1]);
    expect(await put(redis, { b: 2 }, installed - 1)).toEqual([ScriptCode.VERSION_CONFLICT, installed]);
    expect(await raw.hget(keys.limits, 'policies')).toBe(JSON.stringify({ a: 1 }));
    const next = await put(redis, { b: 2 }, installed);
    expect(next.slice(0, 2)).toEqual([ScriptCode.OK, installed + 1]);
  });
});

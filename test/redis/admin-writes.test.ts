/**
 * Every write the stores make is a script: watched with MONITOR on a Redis of this file's own,
 * the ops writes (a block, its lift, the prune, a sale's put, a policies' put) send no write
 * command of their own, only EVALSHA, and a block or a lift is one script call: a crash can
 * never leave half of it. A sale's put is checked, listed, then written, in that order.
 */
import type { Redis } from 'ioredis';
import { LimitsStore } from '../../src/limits/limits-store.js';
import { DEFAULT_POLICIES } from '../../src/limits/policies.js';
import { scripts } from '../../src/redis/scripts.generated.js';
import { SaleStore } from '../../src/sales/sale-store.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { unique } from '../support/names.js';
import { waitFor } from '../support/wait.js';

// MONITOR sees every client of its Redis: nobody else may work on this one
usePrivateRedis();

const scriptBySha = new Map<string, string>(Object.values(scripts).map((s) => [s.sha, s.name]));
/** Commands a store may send outside a script: script calls and reads. */
const READS = new Set(['hgetall', 'smembers', 'lrange', 'zrangebyscore', 'time']);

/** What `run` sent to Redis outside scripts, as command names, a script call as `evalsha:<name>`. */
async function sentBy(raw: Redis, run: () => Promise<unknown>): Promise<string[]> {
  const monitor = await raw.monitor();
  const seen: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    if (source !== 'lua') seen.push(args);
  });
  try {
    await run();
    const marker = unique('done');
    await raw.ping(marker);
    const at = await waitFor(() => seen.findIndex((args) => args[1] === marker) + 1, { what: 'the marker' });
    return seen
      .slice(0, at - 1)
      .map(([name, sha]) =>
        name!.toLowerCase() === 'evalsha' ? `evalsha:${scriptBySha.get(sha!) ?? sha}` : name!.toLowerCase(),
      );
  } finally {
    monitor.disconnect();
  }
}

describe('admin writes', () => {
  test('a block and its lift are one script call each, for buyers and addresses; the prune is scripts only', async ({
    redis,
    raw,
  }) => {
    // loaded first, so a first call is not an EVALSHA answered NOSCRIPT then an EVAL
    for (const script of Object.values(scripts)) await raw.script('LOAD', script.source);
    const store = new LimitsStore(redis);
    expect(await sentBy(raw, () => store.block('user', unique('u'), 60, 'bot'))).toEqual(['evalsha:putBlock']);
    expect(await sentBy(raw, () => store.block('address', '198.51.100.9', 60, 'abuse'))).toEqual(['evalsha:putBlock']);
    expect(await sentBy(raw, () => store.unblock('user', unique('u')))).toEqual(['evalsha:liftBlock']);
    expect(await sentBy(raw, () => store.unblock('address', '198.51.100.9'))).toEqual(['evalsha:liftBlock']);
    expect(await sentBy(raw, () => store.pruneBlocks())).toEqual(['evalsha:pruneBlocks', 'evalsha:pruneBlocks']);
    const policies = await sentBy(raw, () => store.put(DEFAULT_POLICIES));
    expect(policies.filter((c) => !READS.has(c))).toEqual(['evalsha:putLimits']);
  });

  test("a sale's put is checked, listed, written, then its generation moved; a refused one only checked", async ({
    redis,
    raw,
  }) => {
    for (const script of Object.values(scripts)) await raw.script('LOAD', script.source);
    const store = new SaleStore(redis);
    const saleId = unique('sale');
    const created = await sentBy(raw, () => store.put(saleId, { stock: 5, price: 100, currency: 'CNY' }));
    expect(created[0]).toBe('evalsha:checkSale');
    // listing and joining go out together, in either order, both before the write
    expect(created.slice(1, 3).sort()).toEqual(['evalsha:joinActiveSales', 'evalsha:listSale']);
    expect(created.slice(3)).toEqual(['evalsha:putSale', 'evalsha:joinActiveSales']);
    const updated = await sentBy(raw, () => store.put(saleId, { stock: 7 }));
    expect(updated).toHaveLength(5);
    expect(updated.every((c) => c.startsWith('evalsha:'))).toBe(true);
    const refused = await sentBy(raw, () => store.put(unique('sale'), { stock: 5 }).catch(() => undefined));
    expect(refused).toEqual(['evalsha:checkSale']);
  });
});

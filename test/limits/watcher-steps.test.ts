/**
 * The background steps keep no promise between calls (a Worker cannot await another request's
 * promise): a refresh or a flush that never comes back does not hold up the next one, and a late
 * answer cannot bring back an older copy.
 */
import { LimitsStore } from '../../src/limits/limits-store.js';
import { LimitsWatcher } from '../../src/limits/limits-watcher.js';
import { DEFAULT_POLICIES, type Policies } from '../../src/limits/policies.js';
import { silentLogger } from '../../src/logger.js';
import { SaleTally } from '../../src/ops/sale-tally.js';
import { keys } from '../../src/redis/keys.js';
import type { RedisPort } from '../../src/redis/port.js';
import { describe, expect, test, usePrivateRedis } from '../fixtures.js';
import { createSale } from '../helpers.js';

// this file sets policies: a Redis of its own
usePrivateRedis();
test.scoped({ policies: [DEFAULT_POLICIES, { scope: 'file' }] });

/** The port, with the reply of the next matching call (a script's: by its first key) held back until `release()`. */
function holdingNext(port: RedisPort, method: 'hgetall' | 'script', matches: (key: string) => boolean) {
  let armed = true;
  let holding = false;
  let release: () => void = () => {};
  const released = new Promise<void>((r) => (release = r));
  const held: RedisPort = new Proxy(port, {
    get: (target, name: keyof RedisPort) => {
      const script = name === 'evalsha' || name === 'eval';
      if (method === 'script' ? !script : name !== method) return target[name];
      return async (...args: unknown[]) => {
        const key = script ? (args[1] as string[])[0]! : (args[0] as string);
        const reply = await (target[name] as (...a: unknown[]) => Promise<unknown>)(...args);
        if (armed && matches(key)) {
          armed = false;
          holding = true;
          await released;
        }
        return reply;
      };
    },
  });
  return { held, release: () => release(), holding: () => holding };
}

const policies = (limit: number): Policies => ({
  ...DEFAULT_POLICIES,
  orders: { perUser: { limit, windowSeconds: 10, dryRun: false } },
});

describe('background steps (refreshLimits, flushTally)', () => {
  test('a refresh still waiting for Redis neither blocks the next one nor overwrites its newer copy', async ({
    redis,
  }) => {
    const store = new LimitsStore(redis);
    const { held, release, holding } = holdingNext(redis, 'hgetall', (key) => key === keys.limits);
    const watcher = new LimitsWatcher(new LimitsStore(held), silentLogger);
    await store.put(policies(3));
    const stuck = watcher.refresh(); // reads policies(3), then waits
    await expect.poll(holding).toBe(true);
    await store.put(policies(7));
    await watcher.refresh(); // not the stuck one's promise: its own reads
    expect(watcher.policies.orders.perUser.limit).toBe(7);
    expect(watcher.ageMs()).toBeLessThan(60_000);
    release();
    await stuck;
    expect(watcher.policies.orders.perUser.limit).toBe(7);
  });

  test('a tally flush still waiting for Redis does not hold up the next, which writes its own counts', async ({
    app,
    redis,
    raw,
  }) => {
    const saleId = await createSale(app);
    const { held, release, holding } = holdingNext(redis, 'script', (key) => key === keys.sale(saleId));
    const tally = new SaleTally(held);
    tally.count(saleId, 'order:admitted', 2);
    const stuck = tally.flush();
    await expect.poll(holding).toBe(true);
    tally.count(saleId, 'order:admitted', 5);
    await tally.flush();
    release();
    await stuck;
    expect(await raw.hget(keys.tally(saleId), 'order:admitted')).toBe('7');
  });
});

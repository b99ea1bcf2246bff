import { Ratelimit } from '@upstash/ratelimit';
import type { MiddlewareHandler } from 'hono';
import type { BuyerEnv } from '../http/auth.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';
import type { LimitsView } from './limits-watcher.js';
import { rateLimited } from './sale-windows.js';
import { upstashRedis } from './upstash-redis.js';

/**
 * The `others.perUser` window on a buyer's calls that name no sale (polling, cancel, token
 * re-issue, wallet), with @upstash/ratelimit's fixed window over rushgate's own Redis
 * connection: one extra round trip on routes where it costs nothing that matters, never on the
 * order or payment path (whose windows the sale's scripts count). Fails closed: a Redis error is
 * 503, never an allowance (`timeout: 0`). A buyer over its window is refused from memory until
 * it resets (the library's ephemeral cache). No policy, no round trip.
 */
export function buyerLimiter(
  redis: RedisPort,
  limits: LimitsView,
  random: () => number = Math.random,
): MiddlewareHandler<BuyerEnv> {
  const client = upstashRedis(redis);
  let current: { key: string; limiter: Ratelimit } | undefined;
  const limiterFor = (limit: number, windowSeconds: number): Ratelimit => {
    const key = `${limit}/${windowSeconds}`;
    if (current?.key !== key) {
      current = {
        key,
        limiter: new Ratelimit({
          redis: client as never,
          limiter: Ratelimit.fixedWindow(limit, `${windowSeconds} s`),
          // keyed by the window's length, never by its limit: a changed limit keeps the counts
          prefix: `rg:rl:others.perUser:w${windowSeconds}`,
          ephemeralCache: new Map(),
          timeout: 0,
          analytics: false,
          enableProtection: false,
          dynamicLimits: false,
          enableTelemetry: false,
        }),
      };
    }
    return current.limiter;
  };
  return async function buyerLimiter(c, next) {
    const policy = limits.policies.others?.perUser;
    if (policy) {
      const { userId } = c.get('buyer');
      const result = await limiterFor(policy.limit, policy.windowSeconds).limit(`{u:${userId}}`);
      if (!result.success && policy.dryRun) {
        await callScript(
          redis,
          scripts.countDryRunRefusal,
          { dryRun: keys.limitsDryRun(limits.version) },
          { policy: 'others.perUser' },
        );
      } else if (!result.success) {
        limits.noteRefusal(userId);
        throw rateLimited(
          'others',
          'others.perUser',
          policy.limit,
          policy.windowSeconds,
          (result.reset - Date.now()) / 1000,
          random,
        );
      }
    }
    await next();
  };
}

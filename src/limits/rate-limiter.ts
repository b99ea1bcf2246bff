import { Ratelimit } from '@upstash/ratelimit';
import { problem, type ProblemError } from '../http/problem.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import type { LimitsView } from './limits-watcher.js';
import { upstashRedis } from './upstash-redis.js';

export type LimitedAction = 'orders' | 'payments';
type Scope = 'perUser' | 'perAddress';
interface Window {
  limit: number;
  windowSeconds: number;
  dryRun: boolean;
}

/**
 * A 429 `rate_limited` naming the policy that refused, with the IETF draft RateLimit-Policy /
 * RateLimit headers and a Retry-After spread over a few seconds, so refused buyers do not all
 * come back at the same instant.
 */
export function rateLimited(policy: string, quota: number, windowSeconds: number, resetInSeconds: number, random: () => number): ProblemError {
  const jitter = Math.floor(random() * Math.max(1, Math.min(windowSeconds, 5)));
  return problem('rate_limited', `over the "${policy}" limit of ${quota} per ${windowSeconds} s`, {
    retryAfterSeconds: Math.max(1, Math.ceil(resetInSeconds)) + jitter,
    extra: { policy },
    headers: {
      'RateLimit-Policy': `"${policy}";q=${quota};w=${windowSeconds}`,
      RateLimit: `"${policy}";r=0;t=${Math.max(0, Math.ceil(resetInSeconds))}`,
    },
  });
}

/**
 * Per-buyer and per-address windows with @upstash/ratelimit (fixed windows) over rushgate's
 * own Redis connection. Fails closed: a Redis error is an error (503), never an allowance. A
 * buyer or address over its limit is refused from memory until its window resets (the
 * library's ephemeral cache). Dry-run policies count would-be refusals and refuse nobody.
 */
export class RateLimiter {
  readonly #client;
  #limiters = new Map<string, Ratelimit>();
  #version = -1;

  constructor(
    private readonly redis: RedisPort,
    private readonly limits: LimitsView,
    private readonly random: () => number = Math.random,
  ) {
    this.#client = upstashRedis(redis);
  }

  /** Throws 429 when a policy refuses the buyer or its address. */
  async admit(action: LimitedAction, userId: string, address: string | undefined): Promise<void> {
    const policies = this.limits.policies[action];
    const checks: [Scope, Window, string][] = [['perUser', policies.perUser, `{u:${userId}}`]];
    if (policies.perAddress && address) checks.push(['perAddress', policies.perAddress, `{a:${address}}`]);
    const results = await Promise.all(checks.map(async ([scope, policy, identifier]) => ({ scope, policy, result: await this.#limiter(action, scope, policy).limit(identifier) })));
    for (const { scope, policy, result } of results) {
      if (result.success) continue;
      const name = `${action}.${scope}`;
      if (policy.dryRun) {
        await this.redis.hincrby(keys.limitsDryRun, name, 1);
        continue;
      }
      this.limits.noteRefusal(userId);
      throw rateLimited(name, policy.limit, policy.windowSeconds, (result.reset - Date.now()) / 1000, this.random);
    }
  }

  #limiter(action: LimitedAction, scope: Scope, policy: Window): Ratelimit {
    if (this.limits.version !== this.#version) {
      // new policies: new windows (the old limiters and their memory go)
      this.#limiters = new Map();
      this.#version = this.limits.version;
    }
    const name = `${action}.${scope}`;
    let limiter = this.#limiters.get(name);
    if (!limiter) {
      limiter = new Ratelimit({
        redis: this.#client as never,
        limiter: Ratelimit.fixedWindow(policy.limit, `${policy.windowSeconds} s`),
        prefix: `rg:rl:${name}:v${this.#version}`,
        ephemeralCache: new Map(),
        timeout: 0,
        analytics: false,
        enableProtection: false,
        dynamicLimits: false,
        enableTelemetry: false,
      });
      this.#limiters.set(name, limiter);
    }
    return limiter;
  }
}

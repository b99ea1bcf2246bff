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
  // spread over 0-2 s at least, up to the window (at most 5 s)
  const jitter = Math.floor(random() * Math.max(3, Math.min(windowSeconds, 5) + 1));
  return problem('rate_limited', `over the "${policy}" limit of ${quota} per ${windowSeconds} s`, {
    retryAfterSeconds: Math.max(1, Math.ceil(resetInSeconds)) + jitter,
    extra: { policy },
    headers: {
      'RateLimit-Policy': `"${policy}";q=${quota};w=${windowSeconds}`,
      RateLimit: `"${policy}";r=0;t=${Math.max(0, Math.ceil(resetInSeconds))}`,
    },
  });
}

/** The Redis key prefix of a window: policy and window length, never the policies' version. */
const prefixOf = (action: LimitedAction, scope: Scope, policy: Window) => `rg:rl:${action}.${scope}:w${policy.windowSeconds}`;

/**
 * Per-buyer and per-address windows with @upstash/ratelimit (fixed windows) over rushgate's
 * own Redis connection. Fails closed: a Redis error is an error (503), never an allowance. A
 * buyer or address over its limit is refused from memory until its window resets (the
 * library's ephemeral cache, which we own and read first). Dry-run policies count would-be
 * refusals and refuse nobody. Windows are keyed by policy and window length only, so a policy
 * change that keeps a window keeps its counts: nobody gets a fresh quota from ops churn.
 */
export class RateLimiter {
  readonly #client;
  readonly #limiters = new Map<string, { limit: number; limiter: Ratelimit }>();
  /** identifier -> refused until (ms), per window; shared with the library's cache. */
  readonly #refused = new Map<string, Map<string, number>>();
  #calls = 0;

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
    if (++this.#calls % 1000 === 0) this.#sweep();
    // the limiters first: a raised limit clears the refusals remembered under the old one
    const limiters = checks.map(([scope, policy]) => this.#limiter(action, scope, policy));
    // known refusals first, from memory: no round trip, and no quota taken from the address
    for (const [scope, policy, identifier] of checks) {
      // the library keys its cache by `<prefix>:<identifier>`
      const until = this.#memory(action, scope, policy).get(`${prefixOf(action, scope, policy)}:${identifier}`);
      if (until !== undefined && until > Date.now() && !policy.dryRun) this.#refuse(action, scope, policy, userId, until);
    }
    const results = await Promise.all(checks.map(async ([scope, policy, identifier], i) => ({ scope, policy, result: await limiters[i]!.limit(identifier) })));
    for (const { scope, policy, result } of results) {
      if (result.success) continue;
      if (policy.dryRun) {
        await this.redis.hincrby(keys.limitsDryRun, `${action}.${scope}`, 1);
        continue;
      }
      this.#refuse(action, scope, policy, userId, result.reset);
    }
  }

  #refuse(action: LimitedAction, scope: Scope, policy: Window, userId: string, resetMs: number): never {
    // only a buyer's own refusals count towards blocking it: not its shared address's
    if (scope === 'perUser') this.limits.noteRefusal(userId);
    throw rateLimited(`${action}.${scope}`, policy.limit, policy.windowSeconds, (resetMs - Date.now()) / 1000, this.random);
  }

  #memory(action: LimitedAction, scope: Scope, policy: Window): Map<string, number> {
    const name = prefixOf(action, scope, policy);
    let memory = this.#refused.get(name);
    if (!memory) this.#refused.set(name, (memory = new Map()));
    return memory;
  }

  /** Forgets refusals whose window has ended (entries would otherwise stay until their owner returns). */
  #sweep(): void {
    const nowMs = Date.now();
    for (const memory of this.#refused.values()) for (const [id, until] of memory) if (until <= nowMs) memory.delete(id);
  }

  #limiter(action: LimitedAction, scope: Scope, policy: Window): Ratelimit {
    const name = prefixOf(action, scope, policy);
    const known = this.#limiters.get(name);
    if (known && known.limit === policy.limit) return known.limiter;
    // a raised limit lets those refused under the old one try again (Redis keeps their counts)
    if (known && policy.limit > known.limit) this.#memory(action, scope, policy).clear();
    const limiter = new Ratelimit({
      redis: this.#client as never,
      limiter: Ratelimit.fixedWindow(policy.limit, `${policy.windowSeconds} s`),
      prefix: name,
      ephemeralCache: this.#memory(action, scope, policy),
      timeout: 0,
      analytics: false,
      enableProtection: false,
      dynamicLimits: false,
      enableTelemetry: false,
    });
    this.#limiters.set(name, { limit: policy.limit, limiter });
    return limiter;
  }
}

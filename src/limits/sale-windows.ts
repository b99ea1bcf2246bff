import { keys } from '../redis/keys.js';
import { Refusal, type RateLimitScope, type Refused } from '../refusal.js';
import type { LimitsView } from './limits-watcher.js';

export type LimitedAction = 'orders' | 'payments';
export type WindowScope = 'perUser' | 'perAddress';
/** A script's rate-limit refusal: which window, and how long until it resets. */
export type RateLimited = Extract<Refused, { code: 'rate_limited' }>;

interface Window {
  limit: number;
  windowSeconds: number;
  dryRun: boolean;
}

/** What the order and payment scripts need to count a request against its windows. */
export interface WindowArgs {
  /** The buyer's and the address's window keys, in the sale's slot. */
  keys: { userWindow: string; addressWindow: string };
  /** Per window: its limit (undefined = not in use), length and dry-run flag. */
  args: {
    dryRunPrefix: string;
    userLimit: number;
    userWindowMs: number;
    userDryRun: boolean;
    addressLimit: number | undefined;
    addressWindowMs: number;
    addressDryRun: boolean;
  };
}

/** `rateLimitedRefused`, to throw. */
export function rateLimited(...args: Parameters<typeof rateLimitedRefused>): Refusal {
  return new Refusal(rateLimitedRefused(...args));
}

/**
 * A `rate_limited` refusal naming the policy that refused (rendered as a 429 with the IETF draft
 * RateLimit-Policy / RateLimit headers), with a retry time spread over a few seconds, so refused
 * buyers do not all come back at the same instant.
 */
export function rateLimitedRefused(
  scope: RateLimitScope,
  policy: string,
  quota: number,
  windowSeconds: number,
  resetInSeconds: number,
  random: () => number,
): RateLimited {
  // spread over 0-2 s at least, up to the window (at most 5 s)
  const jitter = Math.floor(random() * Math.max(3, Math.min(windowSeconds, 5) + 1));
  return {
    code: 'rate_limited',
    scope,
    resetMs: Math.max(0, resetInSeconds * 1000),
    policy: {
      name: policy,
      limit: quota,
      windowSeconds,
      retryAfterSeconds: Math.max(1, Math.ceil(resetInSeconds)) + jitter,
    },
  };
}

/**
 * The per-buyer and per-address windows of orders and payments, counted by the sale's own
 * script (one round trip, on Redis time; docs/design.md). A replay is answered by the script before
 * any window counts, so a click storm never meets a 429. Here: the scripts' arguments, the 429
 * with its RateLimit headers, and a memory of refusals, so a buyer known to be over its window
 * is refused without a round trip until the window resets.
 */
export class SaleWindows {
  /** `sale\npolicy:w<seconds>\nidentifier` -> refused until (ms, this instance's clock). */
  readonly #refused = new Map<string, number>();
  /** Limits seen per policy: a raised limit forgets the refusals made under the old one. */
  readonly #limits = new Map<string, number>();
  #calls = 0;

  constructor(
    private readonly limits: LimitsView,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** The windows in force for this request, as script keys and arguments. */
  argsFor(action: LimitedAction, saleId: string, userId: string, address: string | undefined): WindowArgs {
    const policies = this.limits.policies[action];
    const byAddress = address === undefined ? undefined : policies.perAddress;
    const userKey = keys.window(saleId, `${action}.perUser`, policies.perUser.windowSeconds, userId);
    const addressKey = byAddress
      ? keys.window(saleId, `${action}.perAddress`, byAddress.windowSeconds, address!)
      : keys.window(saleId, `${action}.perAddress`, 0, '-');
    return {
      keys: { userWindow: userKey, addressWindow: addressKey },
      args: {
        dryRunPrefix: `dry:v${this.limits.version}:${action}`,
        userLimit: policies.perUser.limit,
        userWindowMs: policies.perUser.windowSeconds * 1000,
        userDryRun: policies.perUser.dryRun,
        addressLimit: byAddress?.limit,
        addressWindowMs: (byAddress?.windowSeconds ?? 0) * 1000,
        addressDryRun: byAddress?.dryRun ?? false,
      },
    };
  }

  /**
   * The remembered `rate_limited` refusal when the buyer or its address is known to be over a window of this
   * sale. Only for requests that cannot be replays: a replay is never refused by a window.
   */
  rememberedRefusal(
    action: LimitedAction,
    saleId: string,
    userId: string,
    address: string | undefined,
  ): RateLimited | undefined {
    if (this.#refused.size === 0) return undefined;
    if (++this.#calls % 1000 === 0) this.#sweep();
    const policies = this.limits.policies[action];
    for (const [scope, policy, identifier] of [
      ['perUser', policies.perUser, userId],
      ['perAddress', policies.perAddress, address],
    ] as const) {
      if (!policy || policy.dryRun || identifier === undefined) continue;
      this.#forgetIfRaised(action, scope, policy);
      const until = this.#refused.get(memoryKey(saleId, action, scope, policy, identifier));
      if (until !== undefined && until > this.now()) {
        return this.#problem(action, scope, policy.limit, policy.windowSeconds, until - this.now(), userId);
      }
    }
    return undefined;
  }

  /** The `rate_limited` refusal (with its policy) for a script's refusal; remembers it until the window resets. */
  refusal(
    action: LimitedAction,
    saleId: string,
    refused: RateLimited,
    userId: string,
    address: string | undefined,
  ): RateLimited {
    const { scope, resetMs } = refused;
    if (scope === 'perSale') {
      const perSecond = this.limits.policies.orders.perSale?.perSecond ?? 0;
      return rateLimitedRefused('perSale', 'orders.perSale', perSecond, 1, resetMs / 1000, this.random);
    }
    if (scope === 'others') return refused;
    const policy = this.limits.policies[action][scope];
    const identifier = scope === 'perUser' ? userId : address;
    // the policy changed between the call and its answer: refuse without remembering
    if (!policy || identifier === undefined)
      return rateLimitedRefused(scope, `${action}.${scope}`, 0, 1, resetMs / 1000, this.random);
    this.#forgetIfRaised(action, scope, policy);
    this.#refused.set(memoryKey(saleId, action, scope, policy, identifier), this.now() + resetMs);
    return this.#problem(action, scope, policy.limit, policy.windowSeconds, resetMs, userId);
  }

  #problem(
    action: LimitedAction,
    scope: WindowScope,
    limit: number,
    windowSeconds: number,
    resetMs: number,
    userId: string,
  ) {
    // only a buyer's own refusals count towards blocking it: not its shared address's
    if (scope === 'perUser') this.limits.noteRefusal(userId);
    return rateLimitedRefused(scope, `${action}.${scope}`, limit, windowSeconds, resetMs / 1000, this.random);
  }

  #forgetIfRaised(action: LimitedAction, scope: WindowScope, policy: Window): void {
    const name = `${action}.${scope}:w${policy.windowSeconds}`;
    const seen = this.#limits.get(name);
    if (seen === policy.limit) return;
    this.#limits.set(name, policy.limit);
    if (seen !== undefined && policy.limit > seen) this.#refused.clear();
  }

  /** Forgets refusals whose window has ended (entries would otherwise stay until their owner returns). */
  #sweep(): void {
    const nowMs = this.now();
    for (const [key, until] of this.#refused) if (until <= nowMs) this.#refused.delete(key);
  }
}

function memoryKey(
  saleId: string,
  action: LimitedAction,
  scope: WindowScope,
  policy: Window,
  identifier: string,
): string {
  return `${saleId}\n${action}.${scope}:w${policy.windowSeconds}\n${identifier}`;
}

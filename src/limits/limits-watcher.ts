import { repeat, type Repeating } from '../background.js';
import type { Logger } from '../logger.js';
import type { LimitsStore } from './limits-store.js';
import { DEFAULT_POLICIES, type Policies } from './policies.js';

/** What a request needs of the limits: the policies in force and the blocklist, from memory. */
export interface LimitsView {
  readonly version: number;
  readonly policies: Policies;
  /** When the buyer's block ends (ms), or undefined when not blocked. */
  blockedUntil(userId: string): number | undefined;
  /** When the address's block ends (ms), or undefined when not blocked. */
  addressBlockedUntil(address: string): number | undefined;
  /** A rate-limit refusal of this buyer, tallied for automatic blocking. */
  noteRefusal(userId: string): void;
}

/**
 * Keeps this instance's copy of the policies and the blocklist fresh, so a change made through
 * any instance is enforced by every instance within a second and a request never pays a Redis
 * round trip for them. The step is `refresh()` (refreshLimits): Node repeats it every
 * `intervalMs` (default 500, `start()`); Workers call it when the copy is older than 500 ms
 * (`ageMs()`), from the request or its `waitUntil`.
 */
export class LimitsWatcher implements LimitsView {
  #version = 0;
  #policies: Policies = DEFAULT_POLICIES;
  #blocked = new Map<string, number>();
  #blockedAddresses = new Map<string, number>();
  #loop: Repeating | undefined;
  #failing = false;
  #refusals = new Map<string, number>();
  /** Redis time minus this instance's clock, measured at each refresh: blocks end on Redis time. */
  #offsetMs = 0;
  #refreshes = 0;
  /** Refreshes started, and the last one whose reads are in force (an older one finishing late is dropped). */
  #started = 0;
  #appliedBlocks = 0;
  #applied = 0;
  /** When the reads in force began (this instance's clock); -Infinity before the first. */
  #readAtMs = Number.NEGATIVE_INFINITY;
  #startedAtMs = Number.NEGATIVE_INFINITY;

  constructor(
    readonly store: LimitsStore,
    private readonly log: Logger,
    private readonly options: { intervalMs?: number; now?: () => number } = {},
  ) {}

  get version(): number {
    return this.#version;
  }

  get policies(): Policies {
    return this.#policies;
  }

  blockedUntil(userId: string): number | undefined {
    return this.#live(this.#blocked.get(userId));
  }

  addressBlockedUntil(address: string): number | undefined {
    return this.#live(this.#blockedAddresses.get(address));
  }

  #live(until: number | undefined): number | undefined {
    return until !== undefined && until > (this.options.now ?? Date.now)() + this.#offsetMs ? until : undefined;
  }

  noteRefusal(userId: string): void {
    if (this.#policies.autoBlock) this.#refusals.set(userId, (this.#refusals.get(userId) ?? 0) + 1);
  }

  /** How old the copy in force is: ms since the reads behind it began (Infinity before the first). */
  ageMs(): number {
    return (this.options.now ?? Date.now)() - this.#readAtMs;
  }

  /** Ms since the latest refresh began, finished or not (Infinity before the first). */
  sinceStartMs(): number {
    return (this.options.now ?? Date.now)() - this.#startedAtMs;
  }

  /**
   * The step (refreshLimits): flushes the refusal tallies (automatic blocking), then reads the
   * blocklist and the policies. Holds no promise between calls, so any runtime may call it from
   * any request; calls that overlap each read, and the reads of the one that started last win.
   */
  async refresh(): Promise<void> {
    const seq = ++this.#started;
    const startedMs = (this.options.now ?? Date.now)();
    this.#startedAtMs = startedMs;
    const rule = this.#policies.autoBlock;
    if (rule && this.#refusals.size > 0) {
      const tallies = this.#refusals;
      this.#refusals = new Map();
      const blocked = await this.store.countRefusals(tallies, rule);
      if (blocked.length > 0) this.log.warn({ blocked }, 'buyers blocked automatically');
    }
    const before = Date.now();
    const nowMs = await this.store.redisTimeMs();
    this.#offsetMs = nowMs - Math.round((before + Date.now()) / 2);
    if (++this.#refreshes % 120 === 0) await this.store.pruneBlocks();
    // separately: a policy that cannot be read never costs the blocklist
    const [blocked, addresses] = await Promise.all([
      this.store.blocked('user', nowMs),
      this.store.blocked('address', nowMs),
    ]);
    if (seq > this.#appliedBlocks) {
      this.#appliedBlocks = seq;
      this.#blocked = blocked;
      this.#blockedAddresses = addresses;
    }
    const current = await this.store.current();
    if (seq < this.#applied) return;
    this.#applied = seq;
    this.#readAtMs = startedMs;
    this.#version = current.version;
    this.#policies = current.policies;
  }

  /** Reads once, then keeps reading; a failed read keeps the last copy and is logged once. */
  async start(): Promise<void> {
    await this.refresh().catch((err: unknown) =>
      this.log.warn({ err: (err as Error).message }, 'limits not loaded yet'),
    );
    this.#loop ??= repeat(
      this.options.intervalMs ?? 500,
      async () => {
        await this.refresh();
        this.#failing = false;
      },
      (err) => {
        if (!this.#failing)
          this.log.warn({ err: (err as Error).message }, 'limits refresh failing; keeping the last copy');
        this.#failing = true;
      },
    );
  }

  async stop(): Promise<void> {
    const loop = this.#loop;
    this.#loop = undefined;
    await loop?.stop();
  }
}

/** Defaults and no blocklist: for apps built without a watcher. */
export const staticLimits: LimitsView = {
  version: 0,
  policies: DEFAULT_POLICIES,
  blockedUntil: () => undefined,
  addressBlockedUntil: () => undefined,
  noteRefusal: () => {},
};

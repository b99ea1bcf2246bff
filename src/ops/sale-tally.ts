import { repeat, type Repeating } from '../background.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { runScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';

/** Sales counted between two flushes at most; counts for further sales are dropped. */
const MAX_SALES = 1000;

/**
 * Per-sale counts of decisions (`order:admitted`, `order:sold_out`, `payment:token_invalid`, …)
 * and payment outcomes (`outcome:succeeded`, …), summed in memory and added to the sale's tally
 * hash in Redis by the step `flush()` (flushTally): once a second on Node's timer (`start()`),
 * through a request's `waitUntil` on Workers. Every instance and process adds to the same hash,
 * so the ops view sees the whole fleet; the hot path pays a map update, not a round trip. These are figures for
 * the ops view, not money: a flush whose reply is lost (a timeout after Redis applied it) is
 * added again on the next flush, so a count can come out high after a Redis failover.
 */
export class SaleTally {
  private pending = new Map<string, Map<string, number>>();
  private loop: Repeating | undefined;
  /** Counts dropped because too many sales were pending (shown nowhere else; for tests). */
  dropped = 0;

  constructor(
    private readonly redis: RedisPort,
    private readonly options: { intervalMs?: number; onError?: (err: unknown) => void } = {},
  ) {}

  count(saleId: string, field: string, by = 1): void {
    let counts = this.pending.get(saleId);
    if (counts === undefined) {
      if (this.pending.size >= MAX_SALES) {
        this.dropped += by;
        return;
      }
      counts = new Map();
      this.pending.set(saleId, counts);
    }
    counts.set(field, (counts.get(field) ?? 0) + by);
  }

  /** How many sales have counts waiting for the next flush. */
  get pendingSales(): number {
    return this.pending.size;
  }

  start(): void {
    this.loop ??= repeat(this.options.intervalMs ?? 1000, () => this.flush());
  }

  /** Stops the timer after a last flush (after the one in progress, which took an earlier batch). */
  async stop(): Promise<void> {
    const loop = this.loop;
    this.loop = undefined;
    await loop?.stop();
    await this.flush();
  }

  /**
   * The step (flushTally): adds what was counted to Redis; counts that could not be written are
   * kept for the next flush. Takes the batch at once, so overlapping calls write disjoint batches
   * and no promise is kept between calls.
   */
  async flush(): Promise<void> {
    const batch = this.pending;
    if (batch.size === 0) return;
    this.pending = new Map();
    await Promise.all(
      [...batch].map(async ([saleId, counts]) => {
        const args = [...counts].flat();
        try {
          await runScript(
            this.redis,
            scripts.addTally,
            [keys.sale(saleId), keys.tally(saleId), keys.history(saleId)],
            args,
          );
        } catch (err) {
          for (const [field, n] of counts) this.count(saleId, field, n);
          this.options.onError?.(err);
        }
      }),
    );
  }
}

/** A tally hash read back: `{ order: { admitted: 3 }, outcome: { succeeded: 1 } }`. */
export function tallyView(hash: Record<string, string>): Record<string, Record<string, number>> {
  const view: Record<string, Record<string, number>> = {};
  for (const [field, value] of Object.entries(hash)) {
    const at = field.indexOf(':');
    if (at <= 0) continue;
    (view[field.slice(0, at)] ??= {})[field.slice(at + 1)] = Number(value);
  }
  return view;
}

import { repeat, type Repeating } from '../background.js';
import type { Logger } from '../logger.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { runScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';
import { ActiveSales } from '../sales/active-sales.js';
import { SaleStore } from '../sales/sale-store.js';

export interface HoldSweeperOptions {
  /** How often to sweep; holds are released within this plus one Redis round trip. */
  intervalMs?: number;
  /** Orders expired per script call. */
  batchSize?: number;
}

/**
 * Expires held orders whose hold has passed and returns their stock. Any number of instances may
 * sweep at once: candidates are read from each sale's holds zset by Redis time, and the
 * expireHolds script re-checks each order, so every order is released exactly once. The step is
 * `sweepOnce()` (sweepHolds): Node repeats it (`start()`); a cron trigger may call it too.
 */
export class HoldSweeper {
  readonly #intervalMs: number;
  readonly #batchSize: number;
  #loop: Repeating | undefined;
  #failing = false;
  readonly #active: ActiveSales;

  constructor(
    private readonly redis: RedisPort,
    private readonly log: Logger,
    options: HoldSweeperOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 500;
    this.#batchSize = options.batchSize ?? 200;
    const sales = new SaleStore(redis);
    // a sale with holds is active (src/sales/active-sales.ts): finished sales are not walked
    this.#active = new ActiveSales(redis, (saleId) => sales.read(saleId));
  }

  start(): void {
    // a slow sweep is not overlapped by the next tick
    this.#loop ??= repeat(
      this.#intervalMs,
      async () => {
        await this.sweepOnce();
        if (this.#failing) this.log.info({}, 'hold sweep recovered');
        this.#failing = false;
      },
      (err) => {
        // once per outage, not every tick
        if (!this.#failing) this.log.warn({ err: (err as Error).message }, 'hold sweep failing');
        this.#failing = true;
      },
    );
  }

  async stop(): Promise<void> {
    const loop = this.#loop;
    this.#loop = undefined;
    await loop?.stop();
  }

  /** One pass over the active sales, all at once; returns how many orders it expired. */
  async sweepOnce(): Promise<number> {
    const [nowMs, sales] = await Promise.all([this.redis.timeMs(), this.#active.ids()]);
    const expired = await Promise.all(sales.map((saleId) => this.#sweepSale(saleId, nowMs)));
    return expired.reduce((a, b) => a + b, 0);
  }

  async #sweepSale(saleId: string, nowMs: number): Promise<number> {
    let expired = 0;
    // bounded, so a sale with a huge backlog cannot starve the others in one pass
    for (let round = 0; round < 50; round++) {
      const due = await this.redis.zrangeByScoreUpTo(keys.holds(saleId), nowMs, this.#batchSize);
      if (due.length === 0) break;
      const reply = await runScript(
        this.redis,
        scripts.expireHolds,
        [keys.sale(saleId), keys.saleUsers(saleId), keys.holds(saleId), ...due.map((id) => keys.order(saleId, id))],
        due,
      );
      expired += Number(reply[1]);
      if (due.length < this.#batchSize) break;
    }
    return expired;
  }
}

/**
 * The index of active sales: what the payment worker and the hold sweeper walk, so that their
 * idle cost follows the sales that can still have work, not every sale ever created.
 *
 * `rg:active` is a sorted set: sale id -> generation. A PUT of a sale joins it (ZINCRBY 1, so
 * the generation moves) before it writes the sale, so a crash after the write never leaves the
 * sale unwalked, and again after, so a walker that judged the sale before the write cannot
 * retire it (SaleStore.put). A sale leaves once it is finished: nothing queued, nothing held
 * (held counts orders being paid), no payment whose outcome is unknown, and sold out or closed.
 * Leaving is conditional on the generation the walker read before it judged the sale: a PUT that
 * re-opens the sale meanwhile (more stock, a later close) has moved the generation, so the sale
 * stays. Nothing else can give a finished sale work: an order needs stock and an open sale, a
 * payment needs a held order.
 *
 * The index key lives outside every sale's slot (one key, legal on Redis Cluster); its scripts
 * (lua/joinActiveSales, adoptListedSales, leaveActiveSales) touch that key only. `rg:sales`
 * stays the list of every sale (ops views, limits, the reconciler).
 */
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript, runScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';
import { saleStatus, type SaleSnapshot } from './sale.js';

export const ACTIVE_SALES_KEY = keys.activeSales;

/** An active sale and the generation it was read at. */
export interface ActiveSale {
  saleId: string;
  generation: number;
}

/** A snapshot says the sale can have no more work: nothing queued or held, sold out or closed. */
export function finished(snapshot: SaleSnapshot): boolean {
  const status = saleStatus(snapshot.sale, snapshot.nowMs);
  return snapshot.queueDepth <= 0 && snapshot.sale.held <= 0 && (status === 'sold_out' || status === 'closed');
}

/** Lists the sale as active (again), moving its generation; called around every PUT of the sale. */
export async function joinActiveSales(redis: RedisPort, saleId: string): Promise<void> {
  await callScript(redis, scripts.joinActiveSales, { active: ACTIVE_SALES_KEY }, { saleId });
}

/** The active sales, read straight from Redis. */
export async function readActiveSales(redis: RedisPort): Promise<ActiveSale[]> {
  return (await redis.zrangeWithScoresFrom(ACTIVE_SALES_KEY, 0)).map(([saleId, generation]) => ({
    saleId,
    generation,
  }));
}

/** Adds every sale of `rg:sales` not in the index yet; each leaves again on its first check if finished. */
export async function adoptListedSales(redis: RedisPort): Promise<number> {
  const listed = await redis.smembers(keys.sales);
  let adopted = 0;
  for (let i = 0; i < listed.length; i += 500)
    adopted += Number(
      (await runScript(redis, scripts.adoptListedSales, [ACTIVE_SALES_KEY], listed.slice(i, i + 500)))[1],
    );
  return adopted;
}

/**
 * Takes finished sales out of the index. `read` gives a sale's snapshot (null: no such sale);
 * each sale leaves only if its generation is still the one listed. Returns the ids that left.
 */
export async function retireFinished(
  redis: RedisPort,
  active: readonly ActiveSale[],
  read: (saleId: string) => Promise<SaleSnapshot | null>,
  unknownPayments: (saleId: string) => Promise<number>,
): Promise<string[]> {
  const left = await Promise.all(
    active.map(async ({ saleId, generation }) => {
      const snapshot = await read(saleId);
      if (snapshot !== null && !finished(snapshot)) return null;
      if (snapshot !== null && (await unknownPayments(saleId)) > 0) return null;
      const reply = await callScript(
        redis,
        scripts.leaveActiveSales,
        { active: ACTIVE_SALES_KEY },
        { saleId, generation: String(generation) },
      );
      const removed = Number(reply[1]);
      return removed === 1 ? saleId : null;
    }),
  );
  return left.filter((id) => id !== null);
}

/**
 * A process's view of the index, read at most once per `refreshMs`, which also retires finished
 * sales every `retireMs`. On first use it adopts sales listed before the index existed.
 */
export class ActiveSales {
  #list: ActiveSale[] = [];
  #readAtMs = -Infinity;
  #retiredAtMs: number;
  #adopted = false;

  constructor(
    private readonly redis: RedisPort,
    private readonly read: (saleId: string) => Promise<SaleSnapshot | null>,
    private readonly options: { refreshMs?: number; retireMs?: number; now?: () => number } = {},
  ) {
    this.#retiredAtMs = this.#now();
  }

  #now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The active sale ids, at most refreshMs old. */
  async ids(): Promise<string[]> {
    const nowMs = this.#now();
    if (nowMs - this.#readAtMs >= (this.options.refreshMs ?? 1000)) {
      if (!this.#adopted) {
        await adoptListedSales(this.redis);
        this.#adopted = true;
      }
      this.#list = await readActiveSales(this.redis);
      this.#readAtMs = nowMs;
      if (nowMs - this.#retiredAtMs >= (this.options.retireMs ?? 5000)) {
        this.#retiredAtMs = nowMs;
        const left = new Set(await retireFinished(this.redis, this.#list, this.read, (id) => this.#unknownCount(id)));
        if (left.size > 0) this.#list = this.#list.filter((s) => !left.has(s.saleId));
      }
    }
    return this.#list.map((s) => s.saleId);
  }

  async #unknownCount(saleId: string): Promise<number> {
    return (await this.redis.zrangeByScoreUpTo(keys.unknown(saleId), Number.MAX_SAFE_INTEGER, 1)).length;
  }
}

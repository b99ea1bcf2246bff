import { joinActiveSales } from './active-sales.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript, hashReply, type ScriptReply } from '../redis/run-script.js';
import { refusalOf } from '../redis/script-outcomes.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';
import { laneDepths, laneServed, parseSale, type SaleSnapshot } from './sale.js';

/** Fields of a PUT /admin/sales body, times already in epoch ms; an undefined field is not given. */
export interface SaleFields {
  name?: string | undefined;
  stock?: number | undefined;
  price?: number | undefined;
  currency?: string | undefined;
  perUserLimit?: number | undefined;
  holdSeconds?: number | undefined;
  opensAt?: number | undefined;
  closesAt?: number | null | undefined;
}

/** Sales kept by readRecent at most. */
const RECENT_MAX = 10_000;

export const SALE_DEFAULTS = { perUserLimit: 2, holdSeconds: 900 } as const;

function snapshot(saleId: string, reply: unknown[], at: number): SaleSnapshot {
  const lanes = hashReply(reply[at + 2]);
  const depths = laneDepths(lanes);
  return {
    sale: parseSale(saleId, hashReply(reply[at])),
    nowMs: Number(reply[at + 1]),
    queueDepth: Object.values(depths).reduce((a, b) => a + b, 0),
    laneDepths: depths,
    laneServed: laneServed(lanes),
  };
}

/** Sales in Redis: create/update (checked, listed, then written) and consistent reads, one script each. */
export class SaleStore {
  /** Recent reads for readRecent: the snapshot (or the read in flight) and when it was asked. */
  readonly #recent = new Map<string, { atMs: number; read: Promise<SaleSnapshot | null> }>();

  constructor(
    private readonly redis: RedisPort,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The sale as read at most `maxAgeMs` ago by this process (what sale pages poll: one script on
   * the sale's slot per second per process, however many pages poll). Concurrent callers share
   * one read; a failed read or a missing sale is not kept. A PUT through this store forgets it.
   */
  readRecent(saleId: string, maxAgeMs: number): Promise<SaleSnapshot | null> {
    const nowMs = this.now();
    const hit = this.#recent.get(saleId);
    if (hit && nowMs - hit.atMs < maxAgeMs) return hit.read;
    // bounded: a flood of distinct ids empties the map rather than growing it
    if (this.#recent.size >= RECENT_MAX) this.#recent.clear();
    const read: Promise<SaleSnapshot | null> = this.read(saleId);
    const entry = { atMs: nowMs, read };
    this.#recent.set(saleId, entry);
    read.then(
      (snapshot) => {
        if (snapshot === null && this.#recent.get(saleId) === entry) this.#recent.delete(saleId);
      },
      () => {
        if (this.#recent.get(saleId) === entry) this.#recent.delete(saleId);
      },
    );
    return read;
  }

  /**
   * Creates the sale or updates the given fields; `created` tells which. The indexes of sales
   * (rg:sales, rg:active) live outside the sale's slot, so one script cannot write both on Redis
   * Cluster. The writes are ordered so that a crash between any two leaves nothing a reader
   * trusts wrongly: checked (a refused put writes nothing anywhere), then listed, then written,
   * then its active generation moved again. A listed id with no sale behind it is skipped by
   * every reader; a written sale the indexes missed would never be swept nor worked.
   */
  async put(saleId: string, fields: SaleFields): Promise<{ created: boolean } & SaleSnapshot> {
    const sale = { sale: keys.sale(saleId), lanes: keys.lanes(saleId) };
    const args = { defaults: JSON.stringify({ name: saleId, ...SALE_DEFAULTS }), given: JSON.stringify(fields) };
    const check = await callScript(this.redis, scripts.checkSale, { sale: sale.sale }, args);
    if (check[0] !== ScriptCode.OK) throw refusalOf(check);
    // on every put, so a put retried after a failed one lists a sale the failed one did not
    await Promise.all([
      callScript(this.redis, scripts.listSale, { sales: keys.sales }, { saleId }),
      joinActiveSales(this.redis, saleId),
    ]);
    let reply: ScriptReply;
    try {
      reply = await callScript(this.redis, scripts.putSale, sale, args);
    } catch (err) {
      // no answer (a timeout, replicas that did not confirm): the sale may be written now, so
      // its generation moves at a venture, as after a write
      await joinActiveSales(this.redis, saleId).catch(() => {});
      this.#recent.delete(saleId);
      throw err;
    }
    // refused after the check (a concurrent put, or a window that closed meanwhile): the id stays
    // listed, with a sale behind it or none (skipped)
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply);
    // the generation moves again after the write: a walker that judged the sale before it
    // (finished) cannot retire it now
    await joinActiveSales(this.redis, saleId);
    this.#recent.delete(saleId);
    return { created: reply[1] === 1, ...snapshot(saleId, reply, 2) };
  }

  /** The sale in one consistent read, or null when it does not exist. */
  async read(saleId: string): Promise<(SaleSnapshot & { admissionDryRunRefusals: number }) | null> {
    const reply = await callScript(
      this.redis,
      scripts.readSale,
      { sale: keys.sale(saleId), lanes: keys.lanes(saleId), admission: keys.admission(saleId) },
      {},
    );
    return reply[0] === ScriptCode.OK
      ? { ...snapshot(saleId, reply, 1), admissionDryRunRefusals: Number(reply[4]) }
      : null;
  }

  /** Up to `limit` sales (any of them when there are more), each read in one snapshot. */
  async readMany(limit: number): Promise<SaleSnapshot[]> {
    const ids = (await this.redis.smembers(keys.sales)).slice(0, limit);
    const read = await Promise.all(ids.map((id) => this.read(id)));
    return read.filter((s) => s !== null);
  }
}

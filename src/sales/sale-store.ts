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

/** Sales in Redis: create/update and consistent reads, one script call each. */
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

  /** Creates the sale or updates the given fields; `created` tells which. */
  async put(saleId: string, fields: SaleFields): Promise<{ created: boolean } & SaleSnapshot> {
    let reply: ScriptReply;
    try {
      reply = await callScript(
        this.redis,
        scripts.putSale,
        { sale: keys.sale(saleId), lanes: keys.lanes(saleId) },
        { defaults: JSON.stringify({ name: saleId, ...SALE_DEFAULTS }), given: JSON.stringify(fields) },
      );
    } catch (err) {
      // no answer (a timeout, replicas that did not confirm): the sale may exist now, and a sale
      // the index misses is never swept nor worked. Listed at a venture; readers skip ids with
      // no sale behind them
      await this.redis.sadd(keys.sales, saleId).catch(() => {});
      await joinActiveSales(this.redis, saleId).catch(() => {});
      this.#recent.delete(saleId);
      throw err;
    }
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply);
    // listed only once it exists, so a refused creation leaves nothing behind; listed on every
    // successful put, so a retried put lists a sale whose listing failed. The index lives outside
    // the sale's slot, so the script cannot add it itself on Redis Cluster
    await this.redis.sadd(keys.sales, saleId);
    // active again (its generation moves), so the worker and the sweeper walk it
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

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
  constructor(private readonly redis: RedisPort) {}

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
      throw err;
    }
    if (reply[0] !== ScriptCode.OK) throw refusalOf(reply);
    // listed only once it exists, so a refused creation leaves nothing behind; listed on every
    // successful put, so a retried put lists a sale whose listing failed. The index lives outside
    // the sale's slot, so the script cannot add it itself on Redis Cluster
    await this.redis.sadd(keys.sales, saleId);
    return { created: reply[1] === 1, ...snapshot(saleId, reply, 2) };
  }

  /** The sale in one consistent read, or null when it does not exist. */
  async read(saleId: string): Promise<(SaleSnapshot & { admissionDryRunRefusals: number }) | null> {
    const reply = await callScript(this.redis, scripts.readSale, { sale: keys.sale(saleId), lanes: keys.lanes(saleId), admission: keys.admission(saleId) }, {});
    return reply[0] === ScriptCode.OK ? { ...snapshot(saleId, reply, 1), admissionDryRunRefusals: Number(reply[4]) } : null;
  }

  /** Up to `limit` sales (any of them when there are more), each read in one snapshot. */
  async readMany(limit: number): Promise<SaleSnapshot[]> {
    const ids = (await this.redis.smembers(keys.sales)).slice(0, limit);
    const read = await Promise.all(ids.map((id) => this.read(id)));
    return read.filter((s) => s !== null);
  }
}

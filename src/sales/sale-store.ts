import { scriptProblem } from '../http/script-problems.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { hashReply, runScript } from '../redis/run-script.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';
import { laneDepths, laneServed, parseSale, queueDepth, type SaleSnapshot } from './sale.js';

/** Fields of a PUT /admin/sales body, times already in epoch ms. */
export interface SaleFields {
  name?: string;
  stock?: number;
  price?: number;
  currency?: string;
  perUserLimit?: number;
  holdSeconds?: number;
  opensAt?: number;
  closesAt?: number | null;
}

export const SALE_DEFAULTS = { perUserLimit: 2, holdSeconds: 900 } as const;

function snapshot(saleId: string, reply: unknown[], at: number): SaleSnapshot {
  return {
    sale: parseSale(saleId, hashReply(reply[at])),
    nowMs: Number(reply[at + 1]),
    queueDepth: queueDepth(hashReply(reply[at + 2])),
    laneDepths: laneDepths(hashReply(reply[at + 2])),
    laneServed: laneServed(hashReply(reply[at + 2])),
  };
}

/** Sales in Redis: create/update and consistent reads, one script call each. */
export class SaleStore {
  constructor(private readonly redis: RedisPort) {}

  /** Creates the sale or updates the given fields; `created` tells which. */
  async put(saleId: string, fields: SaleFields): Promise<{ created: boolean } & SaleSnapshot> {
    // listed before it exists, so the expiry sweep can never miss a sale that has holds
    await this.redis.sadd(keys.sales, saleId);
    const reply = await runScript(
      this.redis,
      scripts.putSale,
      [keys.sale(saleId), keys.lanes(saleId)],
      [JSON.stringify({ name: saleId, ...SALE_DEFAULTS }), JSON.stringify(fields)],
    );
    if (reply[0] !== ScriptCode.OK) throw scriptProblem(reply);
    return { created: reply[1] === 1, ...snapshot(saleId, reply, 2) };
  }

  /** The sale in one consistent read, or null when it does not exist. */
  async read(saleId: string): Promise<(SaleSnapshot & { admissionDryRunRefusals: number }) | null> {
    const reply = await runScript(this.redis, scripts.readSale, [keys.sale(saleId), keys.lanes(saleId), keys.admission(saleId)], []);
    return reply[0] === ScriptCode.OK ? { ...snapshot(saleId, reply, 1), admissionDryRunRefusals: Number(reply[4]) } : null;
  }
}

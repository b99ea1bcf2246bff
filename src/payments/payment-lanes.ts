import { keys, type Lane } from '../redis/keys.js';
import type { RedisPort, StreamEntry } from '../redis/port.js';
import type { LaneEntryHash } from '../redis/records.js';
import { callScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';

/** The consumer group every worker reads the lanes through. */
export const WORKER_GROUP = 'workers';

/** Both lanes, priority first. */
export const LANES: readonly Lane[] = ['priority', 'standard'];

/** One entry of a lane's stream: a payment for a worker to handle. */
export interface LaneEntry {
  /** The stream entry's id, acknowledged once the payment is handled. */
  id: string;
  paymentId: string;
  orderId: string;
}

const entryOf = ({ id, fields }: StreamEntry): LaneEntry => {
  const f: LaneEntryHash = fields;
  return { id, paymentId: f.paymentId!, orderId: f.orderId! };
};

/**
 * The payment lanes' streams (`acceptPayment` appends to them), read by workers through one
 * consumer group: an entry read is the reader's until acknowledged, and taken over by another
 * worker after a visibility timeout.
 */
export class PaymentLanes {
  constructor(private readonly redis: RedisPort) {}

  /** Creates the sale's consumer groups where missing (at the streams' start). */
  async ensureGroups(saleId: string): Promise<void> {
    await Promise.all(LANES.map((lane) => this.redis.xgroupCreate(keys.lane(saleId, lane), WORKER_GROUP)));
  }

  /** Up to `count` new entries of one lane for `consumer`. */
  async read(saleId: string, lane: Lane, consumer: string, count: number): Promise<LaneEntry[]> {
    const batches = await this.#grouped(saleId, lane, (stream) =>
      this.redis.xreadgroup(WORKER_GROUP, consumer, [stream], count),
    );
    return batches.flatMap((b) => b.entries.map(entryOf));
  }

  /** Entries of one lane read but not acknowledged for `minIdleMs`, taken over by `consumer`. */
  async claim(saleId: string, lane: Lane, consumer: string, minIdleMs: number, count: number): Promise<LaneEntry[]> {
    const entries = await this.#grouped(saleId, lane, (stream) =>
      this.redis.xautoclaim(stream, WORKER_GROUP, consumer, minIdleMs, count),
    );
    return entries.map(entryOf);
  }

  /** A group command on one lane; a group lost to a flush or failover is created again (nothing read). */
  async #grouped<T>(saleId: string, lane: Lane, command: (stream: string) => Promise<T[]>): Promise<T[]> {
    const stream = keys.lane(saleId, lane);
    try {
      return await command(stream);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOGROUP')) throw err;
      await this.redis.xgroupCreate(stream, WORKER_GROUP);
      return [];
    }
  }

  /** The entries are handled: no worker takes them again. */
  async ack(saleId: string, lane: Lane, entryIds: readonly string[]): Promise<void> {
    if (entryIds.length > 0) await this.redis.xack(keys.lane(saleId, lane), WORKER_GROUP, entryIds);
  }

  /**
   * Puts back in their lane the sale's waiting payments (queued, processing) accepted at least
   * `minAgeMs` ago whose entry is gone (Redis lost it); yields the ids put back, one SCAN page at
   * a time.
   */
  async *requeueLost(saleId: string, minAgeMs: number, pageSize = 1000): AsyncGenerator<string[]> {
    let cursor = '0';
    do {
      const reply = await callScript(
        this.redis,
        scripts.requeueLost,
        { lanes: keys.lanes(saleId), standard: keys.lane(saleId, 'standard'), priority: keys.lane(saleId, 'priority') },
        { cursor, pattern: keys.payment(saleId, '*'), minAgeMs, count: pageSize },
      );
      cursor = String(reply[1]);
      yield reply[2] as string[];
    } while (cursor !== '0');
  }
}

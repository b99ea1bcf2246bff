import type { PaymentPosting } from '../ledger/ledger.js';
import { LANES, type LaneEntry, type PaymentLanes } from '../payments/payment-lanes.js';
import type { PaymentStore } from '../payments/payment-store.js';
import type { Lane } from '../redis/keys.js';
import type { PaymentStatus } from '../redis/records.js';

/** A payment taken from its lane in this round. */
export interface Taken {
  saleId: string;
  lane: Lane;
  /** Its lane entry, acknowledged once the payment is handled. */
  entryId: string;
  /** After the take: `processing` unless settled meanwhile (a redelivery), null when gone. */
  status: PaymentStatus | null;
  posting: PaymentPosting;
  /** When the payment was accepted (ms, Redis time). */
  createdAtMs: number;
}

export interface TakeOptions {
  /** This worker's name in the consumer group. */
  consumer: string;
  /** Payments taken per round, over both lanes. */
  batchSize: number;
  /** Priority entries read per standard entry (2 = 2:1). */
  priorityWeight: number;
  /** Entries read but unacknowledged this long are taken over. */
  visibilityTimeoutMs: number;
}

/** `room` entries shared out over `streams` streams, the first ones getting the remainder; none gets 0. */
export function shareOut(room: number, streams: number): number[] {
  const n = Math.min(room, streams);
  const base = Math.floor(room / n);
  return Array.from({ length: n }, (_, i) => base + (i < room - base * n ? 1 : 0));
}

interface Read {
  saleId: string;
  lane: Lane;
  entry: LaneEntry;
}

/**
 * The take step: reads a round's payments from the active sales' lanes through the consumer
 * group (weighted FIFO, stale entries taken over) and marks them `processing`.
 */
export class LaneTaker {
  /** Sales whose consumer groups this worker has made sure of. */
  readonly #grouped = new Set<string>();
  #claimedAtMs = 0;
  #rotation = 0;

  constructor(
    private readonly lanes: PaymentLanes,
    private readonly payments: PaymentStore,
    private readonly options: TakeOptions,
  ) {}

  /** Makes sure of the consumer groups of sales listed for the first time; forgets the sales that left. */
  async ensureGroups(sales: readonly string[]): Promise<void> {
    const fresh = sales.filter((s) => !this.#grouped.has(s));
    await Promise.all(fresh.map((s) => this.lanes.ensureGroups(s)));
    for (const s of fresh) this.#grouped.add(s);
    // sales that left are forgotten, so one that comes back has its groups checked again
    if (this.#grouped.size > sales.length)
      for (const s of this.#grouped) if (!sales.includes(s)) this.#grouped.delete(s);
  }

  /** One round's payments, marked processing: claimed ones first, then priority, then standard. */
  async take(sales: readonly string[]): Promise<Taken[]> {
    const { batchSize, priorityWeight, visibilityTimeoutMs } = this.options;
    const entries: Read[] = [];
    // stale entries on a slower timer than the reads: half the visibility timeout
    const nowMs = Date.now();
    if (nowMs - this.#claimedAtMs >= visibilityTimeoutMs / 2) {
      this.#claimedAtMs = nowMs;
      entries.push(...(await this.#claim(sales)));
    }
    // weighted FIFO: priority first, up to weight/(weight+1) of the round. COUNT applies per
    // stream and an entry read is this worker's to handle, so a lane's budget is shared out
    // over its streams (from a different sale each round, so none starves the others) and
    // they are read at once; the budget left goes, in the next read, to the streams that filled
    // their share and to those the share did not reach (more streams than budget), so empty
    // lanes of idle sales never leave a busy one waiting for a later round
    const prioritySlots = Math.ceil((batchSize * priorityWeight) / (priorityWeight + 1));
    this.#rotation = (this.#rotation + 1) % sales.length;
    const ordered = [...sales.slice(this.#rotation), ...sales.slice(0, this.#rotation)];
    for (const lane of LANES) {
      let room = lane === 'priority' ? prioritySlots : batchSize - entries.length;
      let candidates = ordered;
      for (let pass = 0; pass < 4 && room > 0 && candidates.length > 0; pass++) {
        const shares = shareOut(room, candidates.length);
        const reads = await Promise.all(
          candidates.slice(0, shares.length).map(async (saleId, i) => {
            const got = await this.lanes.read(saleId, lane, this.options.consumer, shares[i]!);
            for (const entry of got) entries.push({ saleId, lane, entry });
            return { saleId, got: got.length, full: got.length === shares[i] };
          }),
        );
        room -= reads.reduce((n, r) => n + r.got, 0);
        candidates = [...reads.filter((r) => r.full).map((r) => r.saleId), ...candidates.slice(shares.length)];
      }
    }
    return this.#markProcessing(entries);
  }

  /** Entries pending longer than the visibility timeout, taken over from every active lane at once. */
  async #claim(sales: readonly string[]): Promise<Read[]> {
    const { consumer, visibilityTimeoutMs, batchSize } = this.options;
    const claimed = await Promise.all(
      sales.flatMap((saleId) =>
        LANES.map(async (lane) =>
          (await this.lanes.claim(saleId, lane, consumer, visibilityTimeoutMs, batchSize)).map((entry) => ({
            saleId,
            lane,
            entry,
          })),
        ),
      ),
    );
    return claimed.flat();
  }

  /** takePayments once per lane read, in the order the lanes were first read. */
  async #markProcessing(entries: readonly Read[]): Promise<Taken[]> {
    const groups = new Map<string, Read[]>();
    for (const e of entries) {
      const lane = `${e.saleId} ${e.lane}`;
      groups.set(lane, [...(groups.get(lane) ?? []), e]);
    }
    const taken: Taken[] = [];
    for (const group of groups.values()) {
      const { saleId, lane } = group[0]!;
      const rows = await this.payments.take(
        saleId,
        lane,
        group.map((e) => e.entry),
      );
      group.forEach((e, i) => {
        const row = rows[i]!;
        taken.push({
          saleId,
          lane,
          entryId: e.entry.id,
          status: row.status,
          createdAtMs: row.createdAtMs,
          posting: {
            paymentId: row.paymentId,
            orderId: row.orderId,
            saleId,
            userId: row.userId,
            method: row.method,
            amount: row.amount,
            currency: row.currency,
          },
        });
      });
    }
    return taken;
  }
}

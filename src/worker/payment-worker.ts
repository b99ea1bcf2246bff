import type { Ledger, PaymentPosting, PostingOutcome } from '../ledger/ledger.js';
import type { Logger } from '../logger.js';
import { PaymentStore } from '../payments/payment-store.js';
import { keys, type Lane } from '../redis/keys.js';
import type { RedisPort, StreamEntry } from '../redis/port.js';
import { runScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';

/** The consumer group every worker reads the lanes through. */
export const WORKER_GROUP = 'workers';

export interface PaymentWorkerOptions {
  /** This worker's name in the consumer group (unique per process). */
  consumer: string;
  /** Payments taken per round, over both lanes. */
  batchSize?: number;
  /** Priority entries read per standard entry (2 = 2:1). */
  priorityWeight?: number;
  /** A payment taken but not acknowledged for this long is taken over by another worker. */
  visibilityTimeoutMs?: number;
  /** Pause between rounds when the lanes are empty. */
  idleMs?: number;
  /** Test-only fault injection: die right after the first ledger commit, before settling. */
  crashAfterPost?: () => void;
}

interface Taken {
  saleId: string;
  stream: string;
  entry: StreamEntry;
  status: string | null;
  posting: PaymentPosting;
}

const LANES: readonly Lane[] = ['priority', 'standard'];

/**
 * Takes payments from the lanes in FIFO order through a Redis consumer group (the priority lane
 * weighted over the standard one), posts them to the ledger in one transaction per round, writes
 * each outcome back to Redis (succeeded and paid only after the ledger committed), then
 * acknowledges them. A worker that dies mid-round loses nothing: its unacknowledged payments are
 * taken over after the visibility timeout, and the ledger answers what it already posted.
 */
export class PaymentWorker {
  readonly #payments: PaymentStore;
  readonly #batchSize: number;
  readonly #priorityWeight: number;
  readonly #visibilityTimeoutMs: number;
  readonly #idleMs: number;
  #sales: string[] = [];
  #salesReadAtMs = 0;
  #claimedAtMs = 0;
  #running: Promise<void> | undefined;
  #stopping = false;
  #failing = false;

  constructor(
    private readonly redis: RedisPort,
    private readonly ledger: Ledger,
    private readonly log: Logger,
    private readonly options: PaymentWorkerOptions,
  ) {
    this.#payments = new PaymentStore(redis);
    this.#batchSize = options.batchSize ?? 200;
    this.#priorityWeight = options.priorityWeight ?? 2;
    this.#visibilityTimeoutMs = options.visibilityTimeoutMs ?? 30_000;
    this.#idleMs = options.idleMs ?? 20;
  }

  start(): void {
    this.#stopping = false;
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#running;
    this.#running = undefined;
  }

  async #loop(): Promise<void> {
    while (!this.#stopping) {
      let handled = 0;
      try {
        handled = await this.runOnce();
        if (this.#failing) this.log.info({}, 'payment worker recovered');
        this.#failing = false;
      } catch (err) {
        if (!this.#failing) this.log.warn({ err: (err as Error).message }, 'payment worker round failed; retrying');
        this.#failing = true;
      }
      if (handled === 0) await new Promise((r) => setTimeout(r, this.#failing ? 500 : this.#idleMs));
    }
  }

  /** One round: take, post, settle, acknowledge. Returns how many payments it handled. */
  async runOnce(): Promise<number> {
    const sales = await this.#knownSales();
    if (sales.length === 0) return 0;
    const taken = await this.#take(sales);
    if (taken.length === 0) return 0;

    const open = taken.filter((t) => t.status === 'processing');
    const outcomes = new Map<string, PostingOutcome | { status: 'failed'; code: string }>();
    const wallet = open.filter((t) => t.posting.method === 'wallet').map((t) => t.posting);
    if (wallet.length > 0) {
      for (const [id, outcome] of await this.ledger.postPayments(wallet)) outcomes.set(id, outcome);
      this.options.crashAfterPost?.();
    }
    // channels other than the wallet are driven by the channel adapters (not configured here)
    for (const t of open) {
      if (t.posting.method !== 'wallet') outcomes.set(t.posting.paymentId, { status: 'failed', code: 'channel_unavailable' });
    }
    await Promise.all(
      open.map((t) => {
        const outcome = outcomes.get(t.posting.paymentId)!;
        return this.#payments.settle(t.saleId, t.posting.orderId, t.posting.paymentId, outcome.status, 'code' in outcome ? outcome.code : '');
      }),
    );
    const byStream = new Map<string, string[]>();
    for (const t of taken) byStream.set(t.stream, [...(byStream.get(t.stream) ?? []), t.entry.id]);
    await Promise.all([...byStream].map(([stream, ids]) => this.redis.xack(stream, WORKER_GROUP, ids)));
    return taken.length;
  }

  /** Sales with lanes, refreshed every second; their consumer groups exist once listed. */
  async #knownSales(): Promise<string[]> {
    const nowMs = Date.now();
    if (nowMs - this.#salesReadAtMs < 1000) return this.#sales;
    const sales = await this.redis.smembers(keys.sales);
    const fresh = sales.filter((s) => !this.#sales.includes(s));
    await Promise.all(fresh.flatMap((s) => LANES.map((lane) => this.redis.xgroupCreate(keys.lane(s, lane), WORKER_GROUP))));
    this.#sales = sales;
    this.#salesReadAtMs = nowMs;
    return sales;
  }

  async #take(sales: readonly string[]): Promise<Taken[]> {
    const entries: { saleId: string; lane: Lane; stream: string; entry: StreamEntry }[] = [];
    const streamOf = new Map<string, { saleId: string; lane: Lane }>();
    for (const saleId of sales) for (const lane of LANES) streamOf.set(keys.lane(saleId, lane), { saleId, lane });

    const nowMs = Date.now();
    if (nowMs - this.#claimedAtMs >= this.#visibilityTimeoutMs / 4) {
      this.#claimedAtMs = nowMs;
      for (const [stream, at] of streamOf) {
        for (const entry of await this.redis.xautoclaim(stream, WORKER_GROUP, this.options.consumer, this.#visibilityTimeoutMs, this.#batchSize)) {
          entries.push({ ...at, stream, entry });
        }
      }
    }
    // weighted FIFO: priority first, up to weight/(weight+1) of the round
    const prioritySlots = Math.ceil((this.#batchSize * this.#priorityWeight) / (this.#priorityWeight + 1));
    for (const lane of LANES) {
      const room = lane === 'priority' ? prioritySlots : this.#batchSize - entries.length;
      if (room <= 0) continue;
      const streams = sales.map((s) => keys.lane(s, lane));
      for (const batch of await this.redis.xreadgroup(WORKER_GROUP, this.options.consumer, streams, room)) {
        const at = streamOf.get(batch.stream)!;
        for (const entry of batch.entries) entries.push({ ...at, stream: batch.stream, entry });
      }
    }
    return this.#markProcessing(entries);
  }

  async #markProcessing(entries: { saleId: string; lane: Lane; stream: string; entry: StreamEntry }[]): Promise<Taken[]> {
    const groups = new Map<string, typeof entries>();
    for (const e of entries) groups.set(e.stream, [...(groups.get(e.stream) ?? []), e]);
    const taken: Taken[] = [];
    for (const group of groups.values()) {
      const { saleId, lane } = group[0]!;
      const reply = await runScript(
        this.redis,
        scripts.takePayments,
        [keys.lanes(saleId), ...group.flatMap((e) => [keys.payment(saleId, e.entry.fields.paymentId!), keys.order(saleId, e.entry.fields.orderId!)])],
        [lane, ...group.map((e) => e.entry.fields.paymentId!)],
      );
      const rows = reply[1] as (string | null)[][];
      group.forEach((e, i) => {
        const [status, method, amount, currency, userId, orderId] = rows[i]!;
        taken.push({
          saleId,
          stream: e.stream,
          entry: e.entry,
          status: status ?? null,
          posting: {
            paymentId: e.entry.fields.paymentId!,
            orderId: orderId ?? e.entry.fields.orderId!,
            saleId,
            userId: userId ?? '',
            method: method ?? '',
            amount: Number(amount),
            currency: currency ?? '',
          },
        });
      });
    }
    return taken;
  }
}

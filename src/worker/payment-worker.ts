import type { Ledger, PaymentPosting, PostingOutcome } from '../ledger/ledger.js';
import { LedgerUnavailableError, sqlState } from '../ledger/sql-port.js';
import type { ChargeResult, PaymentChannel } from '../channels/channel.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import { latencyField } from '../ops/ops-health.js';
import type { SaleTally } from '../ops/sale-tally.js';
import { PaymentStore } from '../payments/payment-store.js';
import { keys, type Lane } from '../redis/keys.js';
import type { RedisPort, StreamEntry } from '../redis/port.js';
import { callScript, runScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';
import { ActiveSales } from '../sales/active-sales.js';
import { SaleStore } from '../sales/sale-store.js';
import { DEFAULT_UNKNOWN_POLICY, forgetUnknown, queryAgainLater, type UnknownPolicy } from './unknown.js';

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
  /** Pause after the first round that finds the lanes empty; it doubles while they stay empty. */
  idleMs?: number;
  /** The longest pause between idle rounds (the back-off's cap). */
  maxIdleMs?: number;
  /** Payment channels by method name; payments for any other method fail `channel_unavailable`. */
  channels?: ReadonlyMap<string, PaymentChannel>;
  /** How soon an `unknown` payment is queried again at its channel. */
  unknownRecheckMs?: number;
  /** Payment outcomes and hand-off lag go here. */
  metrics?: Metrics;
  /** Payment outcomes per sale, for the ops view. */
  tally?: SaleTally;
  /** Re-queries of payments their channel has not answered: backoff, and the review deadline. */
  unknownPolicy?: UnknownPolicy;
  /** Test-only fault injection: die right after the first ledger commit, before settling. */
  crashAfterPost?: () => void;
}

interface Taken {
  saleId: string;
  stream: string;
  entry: StreamEntry;
  status: string | null;
  posting: PaymentPosting;
  /** When the payment was accepted (ms, Redis time). */
  createdAtMs: number;
}

const LANES: readonly Lane[] = ['priority', 'standard'];

/** `room` entries shared out over `streams` streams, the first ones getting the remainder; none gets 0. */
export function shareOut(room: number, streams: number): number[] {
  const n = Math.min(room, streams);
  const base = Math.floor(room / n);
  return Array.from({ length: n }, (_, i) => base + (i < room - base * n ? 1 : 0));
}

type Final = PostingOutcome | { status: 'failed'; code: string };
type Outcome = Final | { status: 'unknown' };

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
  readonly #maxIdleMs: number;
  readonly #unknownRecheckMs: number;
  readonly #active: ActiveSales;
  /** Sales whose consumer groups this worker has made sure of. */
  readonly #grouped = new Set<string>();
  #idleRounds = 0;
  readonly #unknownPolicy: UnknownPolicy;
  #claimedAtMs = 0;
  #rotation = 0;
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
    this.#maxIdleMs = Math.max(this.#idleMs, options.maxIdleMs ?? 250);
    const sales = new SaleStore(redis);
    this.#active = new ActiveSales(redis, (saleId) => sales.read(saleId));
    this.#unknownRecheckMs = options.unknownRecheckMs ?? 2000;
    this.#unknownPolicy = { ...DEFAULT_UNKNOWN_POLICY, baseMs: this.#unknownRecheckMs, ...options.unknownPolicy };
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
      // idle: 20 ms, 40, 80 … up to maxIdleMs, so an idle worker costs Redis a few rounds a second
      this.#idleRounds = handled === 0 ? this.#idleRounds + 1 : 0;
      if (handled === 0) {
        const pauseMs = this.#failing
          ? 500
          : Math.min(this.#idleMs * 2 ** Math.min(this.#idleRounds - 1, 20), this.#maxIdleMs);
        await new Promise((r) => setTimeout(r, pauseMs));
      }
    }
  }

  /** One round: take, post, settle, acknowledge. Returns how many payments it handled. */
  async runOnce(): Promise<number> {
    const sales = await this.#knownSales();
    if (sales.length === 0) return 0;
    const taken = await this.#take(sales);
    if (taken.length === 0) return this.#resolveUnknown(sales);

    const open = taken.filter((t) => t.status === 'processing');
    const outcomes = new Map<string, Outcome>();
    // channels first: what they collected is posted to the ledger with the wallet payments
    const collected: PaymentPosting[] = [];
    await Promise.all(
      open
        .filter((t) => t.posting.method !== 'wallet')
        .map(async (t) => {
          const result = await this.#charge(t.posting);
          if (result.status === 'succeeded') collected.push(t.posting);
          else outcomes.set(t.posting.paymentId, result);
        }),
    );
    // a free order (price 0) moves no money: nothing to post
    for (const t of open)
      if (t.posting.method === 'wallet' && t.posting.amount === 0)
        outcomes.set(t.posting.paymentId, { status: 'succeeded' });
    const toPost = [
      ...open.filter((t) => t.posting.method === 'wallet' && t.posting.amount > 0).map((t) => t.posting),
      ...collected,
    ];
    if (toPost.length > 0) {
      for (const [id, outcome] of await this.#post(toPost)) outcomes.set(id, outcome);
      this.options.crashAfterPost?.();
    }
    // a channel's refusal is recorded in the ledger before anyone is told, so money that arrives
    // for it later is refunded, never kept (and a charge that won the race is answered instead)
    const refusals = open.filter(
      (t) => outcomes.get(t.posting.paymentId)?.status === 'failed' && !toPost.includes(t.posting),
    );
    if (refusals.length > 0) {
      const decided = await this.ledger.fail(
        refusals.map((t) => ({
          paymentId: t.posting.paymentId,
          code: (outcomes.get(t.posting.paymentId) as { code: string }).code,
        })),
      );
      for (const [id, outcome] of decided) outcomes.set(id, outcome);
    }
    await Promise.all(open.map((t) => this.#record(t.saleId, t.posting, outcomes.get(t.posting.paymentId)!)));
    for (const t of open) {
      const outcome = outcomes.get(t.posting.paymentId)!;
      if (outcome.status === 'unknown') continue;
      this.options.metrics?.payment(outcome.status, (Date.now() - t.createdAtMs) / 1000);
      this.options.tally?.count(t.saleId, `outcome:${outcome.status}`);
      // the ops view: failures by code, and the accepted -> settled lag
      if (outcome.status === 'failed') this.options.tally?.count(t.saleId, `failure:${outcome.code}`);
      this.options.tally?.count(t.saleId, latencyField('lag', Date.now() - t.createdAtMs));
    }
    const byStream = new Map<string, string[]>();
    for (const t of taken) byStream.set(t.stream, [...(byStream.get(t.stream) ?? []), t.entry.id]);
    await Promise.all([...byStream].map(([stream, ids]) => this.redis.xack(stream, WORKER_GROUP, ids)));
    return taken.length + (await this.#resolveUnknown(sales));
  }

  /**
   * Posts a batch; when the ledger refuses it (a constraint, not an outage), posts the payments
   * one by one so a single bad payment fails alone instead of blocking every round after it.
   */
  async #post(postings: readonly PaymentPosting[]): Promise<Map<string, Final>> {
    try {
      return await this.ledger.postPayments(postings);
    } catch (err) {
      if (sqlState(err) === undefined || err instanceof LedgerUnavailableError) throw err;
      const outcomes = new Map<string, Final>();
      for (const p of postings) {
        try {
          outcomes.set(p.paymentId, (await this.ledger.postPayments([p])).get(p.paymentId)!);
        } catch (one) {
          if (sqlState(one) === undefined || one instanceof LedgerUnavailableError) throw one;
          this.log.error({ err: one, paymentId: p.paymentId }, 'the ledger refused a payment');
          outcomes.set(p.paymentId, { status: 'failed', code: 'ledger_rejected' });
        }
      }
      return outcomes;
    }
  }

  async #charge(p: PaymentPosting): Promise<Outcome> {
    const channel = this.options.channels?.get(p.method);
    if (!channel) return { status: 'failed', code: 'channel_unavailable' };
    try {
      return await channel.charge({
        paymentId: p.paymentId,
        orderId: p.orderId,
        userId: p.userId,
        amount: p.amount,
        currency: p.currency,
      });
    } catch (err) {
      // an error is no answer: the charge may have gone through, so it is resolved by query
      this.log.warn({ err: (err as Error).message, paymentId: p.paymentId }, 'channel charge failed');
      return { status: 'unknown' };
    }
  }

  /** Writes an outcome back: final ones settle the payment and order, `unknown` is scheduled. */
  async #record(saleId: string, p: PaymentPosting, outcome: Outcome): Promise<void> {
    if (outcome.status === 'unknown') {
      const nowMs = await this.redis.timeMs();
      await callScript(
        this.redis,
        scripts.markUnknown,
        {
          payment: keys.payment(saleId, p.paymentId),
          order: keys.order(saleId, p.orderId),
          unknown: keys.unknown(saleId),
        },
        { paymentId: p.paymentId, nextCheckMs: nowMs + this.#unknownRecheckMs },
      );
      return;
    }
    await this.#payments.settle(saleId, p.orderId, p.paymentId, outcome.status, 'code' in outcome ? outcome.code : '');
  }

  /**
   * Payments whose outcome is not known yet (timeouts) or that a notification named: ask the
   * channel. A success is posted to the ledger (refunded at once when the payment had already
   * failed and the order moved on); a definite failure settles; no answer is asked again later.
   */
  async #resolveUnknown(sales: readonly string[]): Promise<number> {
    if (!this.options.channels?.size) return 0;
    const nowMs = await this.redis.timeMs();
    let handled = 0;
    for (const saleId of sales) {
      for (const paymentId of await this.redis.zrangeByScoreUpTo(keys.unknown(saleId), nowMs, 50)) {
        handled++;
        const h = await this.redis.hgetall(keys.payment(saleId, paymentId));
        const channel = this.options.channels.get(h.method ?? '');
        if (!channel || !['unknown', 'failed'].includes(h.status ?? '')) {
          // settled meanwhile, or still being charged by a worker (its own outcome will settle it)
          if (h.status !== 'processing') await forgetUnknown(this.redis, saleId, paymentId);
          else await this.redis.zadd(keys.unknown(saleId), nowMs + this.#unknownRecheckMs, paymentId);
          continue;
        }
        const posting: PaymentPosting = {
          paymentId,
          orderId: h.orderId!,
          saleId,
          userId: h.userId!,
          method: h.method!,
          amount: Number(h.amount),
          currency: h.currency!,
        };
        try {
          const answer = await channel.query(paymentId).catch((): ChargeResult => ({ status: 'unknown' }));
          if (answer.status === 'unknown') {
            await queryAgainLater(this.redis, this.log, saleId, paymentId, this.#unknownPolicy);
            continue;
          }
          // the ledger decides: a success for a payment already failed there is refunded
          const outcome =
            answer.status === 'succeeded'
              ? (await this.#post([posting])).get(paymentId)!
              : (await this.ledger.fail([{ paymentId, code: answer.code }])).get(paymentId)!;
          await this.#payments.settle(
            saleId,
            posting.orderId,
            paymentId,
            outcome.status,
            'code' in outcome ? outcome.code : '',
          );
          await forgetUnknown(this.redis, saleId, paymentId);
        } catch (err) {
          // one payment's trouble must not stop the others; it is checked again later
          this.log.warn({ err: (err as Error).message, paymentId }, 'could not resolve a payment yet');
          await queryAgainLater(this.redis, this.log, saleId, paymentId, this.#unknownPolicy).catch(() => {});
        }
      }
    }
    return handled;
  }

  /**
   * The active sales (docs/cluster.md: finished sales leave the index), refreshed every second;
   * their consumer groups exist once listed.
   */
  async #knownSales(): Promise<string[]> {
    const sales = await this.#active.ids();
    const fresh = sales.filter((s) => !this.#grouped.has(s));
    await Promise.all(
      fresh.flatMap((s) => LANES.map((lane) => this.redis.xgroupCreate(keys.lane(s, lane), WORKER_GROUP))),
    );
    for (const s of fresh) this.#grouped.add(s);
    // sales that left are forgotten, so one that comes back has its groups checked again
    if (this.#grouped.size > sales.length)
      for (const s of this.#grouped) if (!sales.includes(s)) this.#grouped.delete(s);
    return sales;
  }

  /** Entries pending longer than the visibility timeout, taken over from every active lane at once. */
  async #claim(streamOf: ReadonlyMap<string, { saleId: string; lane: Lane }>) {
    const claimed = await Promise.all(
      [...streamOf].map(async ([stream, at]) =>
        (
          await this.redis.xautoclaim(
            stream,
            WORKER_GROUP,
            this.options.consumer,
            this.#visibilityTimeoutMs,
            this.#batchSize,
          )
        ).map((entry) => ({ ...at, stream, entry })),
      ),
    );
    return claimed.flat();
  }

  async #take(sales: readonly string[]): Promise<Taken[]> {
    const entries: { saleId: string; lane: Lane; stream: string; entry: StreamEntry }[] = [];
    const streamOf = new Map<string, { saleId: string; lane: Lane }>();
    for (const saleId of sales) for (const lane of LANES) streamOf.set(keys.lane(saleId, lane), { saleId, lane });

    // stale entries on a slower timer than the reads: half the visibility timeout
    const nowMs = Date.now();
    if (nowMs - this.#claimedAtMs >= this.#visibilityTimeoutMs / 2) {
      this.#claimedAtMs = nowMs;
      entries.push(...(await this.#claim(streamOf)));
    }
    // weighted FIFO: priority first, up to weight/(weight+1) of the round. COUNT applies per
    // stream and an entry read is this worker's to handle, so a lane's budget is shared out
    // over its streams (from a different sale each round, so none starves the others) and
    // they are read at once; the budget left goes, in the next read, to the streams that filled
    // their share and to those the share did not reach (more streams than budget), so empty
    // lanes of idle sales never leave a busy one waiting for a later round
    const prioritySlots = Math.ceil((this.#batchSize * this.#priorityWeight) / (this.#priorityWeight + 1));
    this.#rotation = (this.#rotation + 1) % sales.length;
    const ordered = [...sales.slice(this.#rotation), ...sales.slice(0, this.#rotation)];
    for (const lane of LANES) {
      let room = lane === 'priority' ? prioritySlots : this.#batchSize - entries.length;
      let candidates = ordered;
      for (let pass = 0; pass < 4 && room > 0 && candidates.length > 0; pass++) {
        const shares = shareOut(room, candidates.length);
        const reads = await Promise.all(
          candidates.slice(0, shares.length).map(async (saleId, i) => {
            const stream = keys.lane(saleId, lane);
            const got = (await this.#read(stream, shares[i]!)).flatMap((batch) => batch.entries);
            for (const entry of got) entries.push({ saleId, lane, stream, entry });
            return { saleId, got: got.length, full: got.length === shares[i] };
          }),
        );
        room -= reads.reduce((n, r) => n + r.got, 0);
        candidates = [...reads.filter((r) => r.full).map((r) => r.saleId), ...candidates.slice(shares.length)];
      }
    }
    return this.#markProcessing(entries);
  }

  /** XREADGROUP on one stream; a group lost to a flush or failover is created again. */
  async #read(stream: string, count: number) {
    try {
      return await this.redis.xreadgroup(WORKER_GROUP, this.options.consumer, [stream], count);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOGROUP')) throw err;
      await this.redis.xgroupCreate(stream, WORKER_GROUP);
      return [];
    }
  }

  async #markProcessing(
    entries: { saleId: string; lane: Lane; stream: string; entry: StreamEntry }[],
  ): Promise<Taken[]> {
    const groups = new Map<string, typeof entries>();
    for (const e of entries) groups.set(e.stream, [...(groups.get(e.stream) ?? []), e]);
    const taken: Taken[] = [];
    for (const group of groups.values()) {
      const { saleId, lane } = group[0]!;
      const reply = await runScript(
        this.redis,
        scripts.takePayments,
        [
          keys.lanes(saleId),
          ...group.flatMap((e) => [
            keys.payment(saleId, e.entry.fields.paymentId!),
            keys.order(saleId, e.entry.fields.orderId!),
          ]),
        ],
        [lane, ...group.map((e) => e.entry.fields.paymentId!)],
      );
      const rows = reply[1] as (string | null)[][];
      group.forEach((e, i) => {
        const [status, method, amount, currency, userId, orderId, createdAt] = rows[i]!;
        taken.push({
          saleId,
          stream: e.stream,
          entry: e.entry,
          status: status ?? null,
          createdAtMs: Number(createdAt),
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

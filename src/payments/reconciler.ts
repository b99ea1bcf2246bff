import type { KeptCharge, LedgerTruth } from '../ledger/ledger.js';
import type { Logger } from '../logger.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { runScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';
import { PaymentLanes } from './payment-lanes.js';

export interface ReconcilerOptions {
  /** The slow timer: a full pass this often. */
  intervalMs?: number;
  /** How often Redis is checked for a restart or a lost data set (run id, marker key). */
  checkMs?: number;
  /** Charges created this long ago or less are compared (0: all); older records may have expired. */
  lookbackMs?: number;
  /** A waiting payment with no lane entry is put back once it is this old. */
  lostAfterMs?: number;
  /** Charges per ledger page and per script call. */
  pageSize?: number;
  /** Written on every sale (its recordTtlMs field): how long ended orders and settled payments are kept. */
  recordTtlMs?: number;
}

export interface ReconcileReport {
  ordersRepaired: number;
  paymentsRepaired: number;
  /** Payments put back in their lane. */
  requeued: number;
  /** Charges refunded because their sale was oversold, by sale. */
  oversold: Record<string, number>;
  /** Sales the ledger charged that Redis no longer knows (cannot be rebuilt: no stock). */
  missingSales: string[];
}

/** How far before the previous pass an incremental pass looks (clock skew, long transactions). */
const INCREMENTAL_OVERLAP_MS = 60_000;

// the run id and whether the marker key exists, in one round trip
const EPOCH = `return { string.match(redis.call('INFO', 'server'), 'run_id:(%w+)'), redis.call('EXISTS', KEYS[1]) }`;
const MARK = `return redis.call('SET', KEYS[1], ARGV[1])`;
// only on a sale that exists, and only when it changes
const RECORD_TTL = `if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('HGET', KEYS[1], 'recordTtlMs') ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'recordTtlMs', ARGV[1]) end return 0`;

/**
 * Reconciles Redis to the ledger, which is the truth about money. Redis can lose acknowledged
 * writes (an AOF that lost its last second, a failover to a lagging replica); the ledger cannot.
 * A pass:
 * 1. every charge the ledger keeps (retained, not refunded) has its payment `succeeded` and its
 *    order `paid` with the units counted sold, written again when Redis lost them;
 * 2. a sale whose kept charges outnumber its seats raises the oversell alarm (error log, the
 *    sale's oversell hash, `rushgate_oversell_alarm`) and its latest charges are refunded until
 *    the charges fit the seats;
 * 3. payments that wait (queued, processing) but whose lane entry is gone are put back in their
 *    lane (full passes only: entries are lost only with Redis's data).
 * Passes run at start, after a detected Redis restart or data loss, and on a slow timer. Every
 * step is idempotent, so several processes may reconcile at once.
 */
export class Reconciler {
  readonly #intervalMs: number;
  readonly #checkMs: number;
  readonly #lookbackMs: number;
  readonly #lostAfterMs: number;
  readonly #pageSize: number;
  readonly #lanes: PaymentLanes;
  #timer: ReturnType<typeof setInterval> | undefined;
  #running: Promise<unknown> | undefined;
  #runId: string | undefined;
  #lastPassMs = 0;
  /** Redis time when the last pass began (incremental passes look back from there). */
  #lastPassStartMs: number | undefined;
  #due = true;
  /** A sale was missing from Redis: the next timer pass is a full one, to restore it once recreated. */
  #fullNext = false;
  #failing = false;
  /** Oversold charges the ledger refunded but Redis has not shown yet (retried each pass). */
  readonly #refundsToShow = new Map<string, { charge: KeptCharge; charges: number; seats: number }>();

  constructor(
    private readonly redis: RedisPort,
    private readonly ledger: LedgerTruth,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions = {},
  ) {
    this.#intervalMs = options.intervalMs ?? 60_000;
    this.#checkMs = options.checkMs ?? 1000;
    this.#lookbackMs = options.lookbackMs ?? 0;
    this.#lostAfterMs = options.lostAfterMs ?? 60_000;
    this.#pageSize = options.pageSize ?? 200;
    this.#lanes = new PaymentLanes(redis);
  }

  start(): void {
    this.#timer ??= setInterval(() => {
      this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    }, this.#checkMs);
    this.#running ??= this.#tick().finally(() => (this.#running = undefined));
  }

  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }

  async #tick(): Promise<void> {
    try {
      if (await this.restarted()) {
        this.log.warn({}, 'redis restarted or lost its data set: reconciling it to the ledger');
        this.#due = true;
      }
      if (!this.#due && Date.now() - this.#lastPassMs < this.#intervalMs) return;
      // a full pass at start and after a restart; the timer's passes look back INCREMENTAL_OVERLAP_MS
      // before the previous one, so they stay cheap during a sale
      const report = await this.runOnce(this.#due || this.#fullNext ? 'full' : 'incremental');
      this.#fullNext = report.missingSales.length > 0;
      if (
        report.ordersRepaired + report.paymentsRepaired + report.requeued > 0 ||
        Object.keys(report.oversold).length > 0
      ) {
        this.log.warn(report, 'reconciled redis to the ledger');
      }
      if (this.#failing) this.log.info({}, 'reconciler recovered');
      this.#failing = false;
    } catch (err) {
      // retried at the next check; once per outage in the log
      this.#due = true;
      if (!this.#failing) this.log.warn({ err: (err as Error).message }, 'reconcile pass failed; retrying');
      this.#failing = true;
    }
  }

  /**
   * Whether Redis restarted (another run id: a restart or a failover) or lost its data set (the
   * marker key gone) since the last look; the first look only remembers.
   */
  async restarted(): Promise<boolean> {
    const [runId, marked] = (await this.redis.eval(EPOCH, [keys.reconciled], [], false)) as [string, number];
    const changed = this.#runId !== undefined && (runId !== this.#runId || marked === 0);
    if (this.#runId === undefined || changed || marked === 0) {
      await this.redis.eval(MARK, [keys.reconciled], [runId]);
    }
    this.#runId = runId;
    return changed;
  }

  /**
   * One pass (see the class); returns what it repaired. `full` compares every kept charge within
   * the lookback; `incremental` only those since INCREMENTAL_OVERLAP_MS before the last pass.
   */
  async runOnce(mode: 'full' | 'incremental' = 'full'): Promise<ReconcileReport> {
    this.#due = false;
    const report: ReconcileReport = {
      ordersRepaired: 0,
      paymentsRepaired: 0,
      requeued: 0,
      oversold: {},
      missingSales: [],
    };
    const nowMs = await this.redis.timeMs();
    let sinceMs = this.#lookbackMs > 0 ? nowMs - this.#lookbackMs : 0;
    if (mode === 'incremental' && this.#lastPassStartMs !== undefined)
      sinceMs = Math.max(sinceMs, this.#lastPassStartMs - INCREMENTAL_OVERLAP_MS);
    await this.#showRefunds();
    const sales = new Set(await this.redis.smembers(keys.sales));
    if (this.options.recordTtlMs !== undefined) {
      for (const saleId of sales)
        await this.redis.eval(RECORD_TTL, [keys.sale(saleId)], [String(this.options.recordTtlMs)]);
    }
    const charged = new Set<string>();
    let after: KeptCharge | undefined;
    for (;;) {
      const page = await this.ledger.keptCharges({ after, sinceMs, limit: this.#pageSize });
      if (page.length === 0) break;
      after = page.at(-1);
      const bySale = new Map<string, KeptCharge[]>();
      for (const c of page) bySale.set(c.saleId, [...(bySale.get(c.saleId) ?? []), c]);
      for (const [saleId, charges] of bySale) {
        charged.add(saleId);
        const reply = await runScript(
          this.redis,
          scripts.reconcileCharges,
          [
            keys.sale(saleId),
            keys.saleUsers(saleId),
            keys.holds(saleId),
            keys.lanes(saleId),
            ...charges.flatMap((c) => [keys.order(saleId, c.orderId), keys.payment(saleId, c.paymentId)]),
          ],
          charges.flatMap((c) => [c.orderId, c.paymentId, c.userId, c.method, c.amount, c.currency, c.createdAtMs]),
        );
        if (reply[0] === 10) {
          if (!report.missingSales.includes(saleId)) report.missingSales.push(saleId);
          continue;
        }
        report.ordersRepaired += Number(reply[1]);
        report.paymentsRepaired += Number(reply[2]);
      }
      if (page.length < this.#pageSize) break;
    }
    if (report.missingSales.length > 0) {
      this.log.error(
        { sales: report.missingSales },
        'the ledger holds charges for sales redis does not know; recreate the sale (PUT) to restore them',
      );
    }
    for (const saleId of new Set([...sales, ...charged])) {
      if (report.missingSales.includes(saleId)) continue;
      const refunded = await this.#resolveOversell(saleId);
      if (refunded > 0) report.oversold[saleId] = refunded;
      // lane entries are lost only with Redis's data (a restart, a failover): full passes look
      if (mode === 'full') report.requeued += await this.#requeueLost(saleId);
    }
    this.#lastPassMs = Date.now();
    this.#lastPassStartMs = nowMs;
    return report;
  }

  /**
   * The documented rule for an oversold sale: the ledger keeps more units charged than the sale
   * has seats (stock). The latest charges are refunded, newest first, until the rest fit.
   */
  async #resolveOversell(saleId: string): Promise<number> {
    const sale = await this.redis.hgetall(keys.sale(saleId));
    const seats = Number(sale.stock);
    const price = Number(sale.price);
    if (!Number.isFinite(seats) || sale.stock === undefined) return 0;
    const unitsOf = (amount: number) => (price > 0 ? Math.max(1, Math.round(amount / price)) : 1);
    const { total, amount } = await this.ledger.latestKeptCharges(saleId, 0);
    const kept = price > 0 ? Math.round(amount / price) : total;
    if (kept <= seats) return 0;
    const excess = kept - seats;
    this.log.error(
      { saleId, charges: kept, seats },
      'oversell: the ledger keeps more charges than the sale has seats; refunding the latest',
    );
    const { latest } = await this.ledger.latestKeptCharges(saleId, excess);
    const chosen: KeptCharge[] = [];
    let units = 0;
    for (const c of latest) {
      if (units >= excess) break;
      chosen.push(c);
      units += unitsOf(c.amount);
    }
    const refunded = new Set(await this.ledger.refundCharges(chosen.map((c) => c.paymentId)));
    for (const c of chosen)
      if (refunded.has(c.paymentId)) this.#refundsToShow.set(c.paymentId, { charge: c, charges: kept, seats });
    await this.#showRefunds();
    return refunded.size;
  }

  /** Shows in Redis the oversold charges the ledger refunded. */
  async #showRefunds(): Promise<void> {
    for (const [paymentId, { charge: c, charges, seats }] of this.#refundsToShow) {
      await runScript(
        this.redis,
        scripts.refundOversold,
        [
          keys.sale(c.saleId),
          keys.saleUsers(c.saleId),
          keys.order(c.saleId, c.orderId),
          keys.payment(c.saleId, c.paymentId),
          keys.oversell(c.saleId),
        ],
        [paymentId, charges, seats],
      );
      this.#refundsToShow.delete(paymentId);
    }
  }

  /** Puts back in their lane one sale's waiting payments whose lane entry is gone. */
  async #requeueLost(saleId: string): Promise<number> {
    let requeued = 0;
    for await (const ids of this.#lanes.requeueLost(saleId, this.#lostAfterMs)) {
      if (ids.length > 0)
        this.log.warn({ saleId, paymentIds: ids }, 'payments had lost their lane entry: put back in their lane');
      requeued += ids.length;
    }
    return requeued;
  }
}

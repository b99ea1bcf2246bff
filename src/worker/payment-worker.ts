import type { Ledger } from '../ledger/ledger.js';
import type { PaymentChannel } from '../channels/channel.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../ops/metrics.js';
import type { SaleTally } from '../ops/sale-tally.js';
import { PaymentLanes } from '../payments/payment-lanes.js';
import { PaymentStore } from '../payments/payment-store.js';
import { UnknownPayments } from '../payments/unknown-payments.js';
import type { RedisPort } from '../redis/port.js';
import { ActiveSales } from '../sales/active-sales.js';
import { SaleStore } from '../sales/sale-store.js';
import { chargeChannels } from './charge.js';
import { postRound } from './post.js';
import { acknowledge, countOutcomes, recordOutcomes } from './record.js';
import { LaneTaker } from './take.js';
import { DEFAULT_UNKNOWN_POLICY, resolveUnknown, type ResolveUnknownDeps, type UnknownPolicy } from './unknown.js';

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

/**
 * Takes payments from the lanes in FIFO order through a Redis consumer group (the priority lane
 * weighted over the standard one), posts them to the ledger in one transaction per round, writes
 * each outcome back to Redis (succeeded and paid only after the ledger committed), then
 * acknowledges them. A worker that dies mid-round loses nothing: its unacknowledged payments are
 * taken over after the visibility timeout, and the ledger answers what it already posted.
 *
 * A round is a sequence of steps, each in its own module: take (take.ts), charge (charge.ts),
 * post (post.ts), record and acknowledge (record.ts), resolve unknown (unknown.ts). The Redis
 * state they change belongs to src/payments/.
 */
export class PaymentWorker {
  readonly #payments: PaymentStore;
  readonly #lanes: PaymentLanes;
  readonly #taker: LaneTaker;
  readonly #idleMs: number;
  readonly #maxIdleMs: number;
  readonly #unknownRecheckMs: number;
  readonly #active: ActiveSales;
  readonly #resolving: ResolveUnknownDeps;
  #idleRounds = 0;
  #running: Promise<void> | undefined;
  #stopping = false;
  #failing = false;

  constructor(
    redis: RedisPort,
    private readonly ledger: Ledger,
    private readonly log: Logger,
    private readonly options: PaymentWorkerOptions,
  ) {
    this.#payments = new PaymentStore(redis);
    this.#lanes = new PaymentLanes(redis);
    this.#taker = new LaneTaker(this.#lanes, this.#payments, {
      consumer: options.consumer,
      batchSize: options.batchSize ?? 200,
      priorityWeight: options.priorityWeight ?? 2,
      visibilityTimeoutMs: options.visibilityTimeoutMs ?? 30_000,
    });
    this.#idleMs = options.idleMs ?? 20;
    this.#maxIdleMs = Math.max(this.#idleMs, options.maxIdleMs ?? 250);
    const sales = new SaleStore(redis);
    this.#active = new ActiveSales(redis, (saleId) => sales.read(saleId));
    this.#unknownRecheckMs = options.unknownRecheckMs ?? 2000;
    this.#resolving = {
      redis,
      payments: this.#payments,
      unknown: new UnknownPayments(redis),
      ledger,
      log,
      channels: options.channels ?? new Map(),
      policy: { ...DEFAULT_UNKNOWN_POLICY, baseMs: this.#unknownRecheckMs, ...options.unknownPolicy },
      recheckInMs: this.#unknownRecheckMs,
    };
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

  /** One round: take, charge, post, record, acknowledge, resolve unknown. Returns how many payments it handled. */
  async runOnce(): Promise<number> {
    // the active sales (docs/cluster.md: finished sales leave the index), refreshed every second
    const sales = await this.#active.ids();
    if (sales.length === 0) return 0;
    await this.#taker.ensureGroups(sales);
    const taken = await this.#taker.take(sales);
    if (taken.length === 0) return resolveUnknown(this.#resolving, sales);

    const open = taken.filter((t) => t.status === 'processing');
    // channels first: what they collected is posted to the ledger with the wallet payments
    const charged = await chargeChannels(open, this.options.channels, this.log);
    const outcomes = await postRound(this.ledger, this.log, open, charged, this.options.crashAfterPost);
    await recordOutcomes(this.#payments, open, outcomes, this.#unknownRecheckMs);
    countOutcomes(open, outcomes, this.options);
    await acknowledge(this.#lanes, taken);
    return taken.length + (await resolveUnknown(this.#resolving, sales));
  }
}

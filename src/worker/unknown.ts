import type { ChargeResult, PaymentChannel } from '../channels/channel.js';
import type { Ledger, PaymentPosting } from '../ledger/ledger.js';
import type { Logger } from '../logger.js';
import type { PaymentStore } from '../payments/payment-store.js';
import type { UnknownPayments, UnknownPolicy } from '../payments/unknown-payments.js';
import type { RedisPort } from '../redis/port.js';
import type { PaymentStatus } from '../redis/records.js';
import { postPayments } from './post.js';

export type { UnknownPolicy } from '../payments/unknown-payments.js';

export const DEFAULT_UNKNOWN_POLICY: UnknownPolicy = { baseMs: 2000, maxMs: 60_000, reviewAfterMs: 600_000 };

/** Payments looked at per sale and round. */
const DUE_PER_SALE = 50;

/** Statuses a channel's answer can still change: not answered yet, or failed (a late success). */
const AWAITING: ReadonlySet<PaymentStatus> = new Set(['unknown', 'failed']);

export interface ResolveUnknownDeps {
  /** Its clock: which queries are due (Redis time). */
  redis: RedisPort;
  payments: PaymentStore;
  unknown: UnknownPayments;
  ledger: Ledger;
  log: Logger;
  channels: ReadonlyMap<string, PaymentChannel>;
  policy: UnknownPolicy;
  /** A payment still being charged by a worker is looked at again this much later. */
  recheckInMs: number;
}

/**
 * The resolve-unknown step: payments whose outcome is not known yet (timeouts) or that a
 * notification named are asked of their channel. A success is posted to the ledger (refunded at
 * once when the payment had already failed and the order moved on); a definite failure settles;
 * no answer is asked again later. Returns how many payments it looked at.
 */
export async function resolveUnknown(deps: ResolveUnknownDeps, sales: readonly string[]): Promise<number> {
  if (deps.channels.size === 0) return 0;
  const nowMs = await deps.redis.timeMs();
  let handled = 0;
  for (const saleId of sales) {
    for (const paymentId of await deps.unknown.due(saleId, nowMs, DUE_PER_SALE)) {
      handled++;
      await resolveOne(deps, saleId, paymentId);
    }
  }
  return handled;
}

async function resolveOne(deps: ResolveUnknownDeps, saleId: string, paymentId: string): Promise<void> {
  const { payments, unknown, ledger, log } = deps;
  const p = await payments.find(saleId, paymentId);
  const channel = p ? deps.channels.get(p.method) : undefined;
  if (!p || !channel || !AWAITING.has(p.status)) {
    // settled meanwhile, or still being charged by a worker (its own outcome will settle it)
    await unknown.forget(saleId, paymentId, deps.recheckInMs);
    return;
  }
  const posting: PaymentPosting = {
    paymentId,
    orderId: p.orderId,
    saleId,
    userId: p.userId,
    method: p.method,
    amount: p.amount,
    currency: p.currency,
  };
  try {
    const answer = await channel.query(paymentId).catch((): ChargeResult => ({ status: 'unknown' }));
    if (answer.status === 'unknown') {
      await queryAgainLater(deps, saleId, paymentId);
      return;
    }
    // the ledger decides: a success for a payment already failed there is refunded
    const outcome =
      answer.status === 'succeeded'
        ? (await postPayments(ledger, log, [posting])).get(paymentId)!
        : (await ledger.fail([{ paymentId, code: answer.code }])).get(paymentId)!;
    await payments.settle(saleId, p.orderId, paymentId, outcome.status, 'code' in outcome ? outcome.code : '');
    await unknown.forget(saleId, paymentId, deps.recheckInMs);
  } catch (err) {
    // one payment's trouble must not stop the others; it is checked again later
    log.warn({ err: (err as Error).message, paymentId }, 'could not resolve a payment yet');
    await queryAgainLater(deps, saleId, paymentId).catch(() => {});
  }
}

/**
 * A query went unanswered (or failed): the payment is queried again after a backoff, and marked
 * for review past its deadline (logged once, counted in `rushgate_payments_review`).
 */
async function queryAgainLater(deps: ResolveUnknownDeps, saleId: string, paymentId: string): Promise<void> {
  const { markedForReview } = await deps.unknown.recheckLater(saleId, paymentId, deps.policy);
  if (markedForReview)
    deps.log.error(
      { saleId, paymentId, afterMs: deps.policy.reviewAfterMs },
      'payment unanswered by its channel past its deadline: marked for review (stock still held)',
    );
}

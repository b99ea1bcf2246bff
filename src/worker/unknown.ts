import type { Logger } from '../logger.js';
import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript } from '../redis/run-script.js';
import { scripts } from '../redis/scripts.generated.js';

/** How payments without an answer from their channel are queried again. */
export interface UnknownPolicy {
  /** The first re-query's delay; each unanswered query doubles it. */
  baseMs: number;
  /** The longest delay between two queries. */
  maxMs: number;
  /** Unanswered this long after acceptance: marked for review (still queried, stock still held). */
  reviewAfterMs: number;
}

export const DEFAULT_UNKNOWN_POLICY: UnknownPolicy = { baseMs: 2000, maxMs: 60_000, reviewAfterMs: 600_000 };

/**
 * A query went unanswered (or failed): the payment is queried again after a backoff, and marked
 * for review past its deadline (logged once, counted in `rushgate_payments_review`).
 */
export async function queryAgainLater(
  redis: RedisPort,
  log: Logger,
  saleId: string,
  paymentId: string,
  policy: UnknownPolicy,
): Promise<void> {
  const reply = await callScript(
    redis,
    scripts.scheduleRecheck,
    { payment: keys.payment(saleId, paymentId), unknown: keys.unknown(saleId), review: keys.review(saleId) },
    { paymentId, baseMs: policy.baseMs, maxMs: policy.maxMs, reviewAfterMs: policy.reviewAfterMs },
  );
  if (Number(reply[2]) === 1)
    log.error(
      { saleId, paymentId, afterMs: policy.reviewAfterMs },
      'payment unanswered by its channel past its deadline: marked for review (stock still held)',
    );
}

/** The payment is settled (or no longer waits on its channel): off the re-query and review lists. */
export async function forgetUnknown(redis: RedisPort, saleId: string, paymentId: string): Promise<void> {
  await Promise.all([redis.zrem(keys.unknown(saleId), paymentId), redis.zrem(keys.review(saleId), paymentId)]);
}

import { keys } from '../redis/keys.js';
import type { RedisPort } from '../redis/port.js';
import { callScript } from '../redis/run-script.js';
import { ScriptCode } from '../redis/script-codes.js';
import { scripts } from '../redis/scripts.generated.js';

/** Event ids are remembered this long (channels retry notifications for days). */
const EVENT_TTL_SECONDS = 7 * 86_400;

/** How payments without an answer from their channel are queried again. */
export interface UnknownPolicy {
  /** The first re-query's delay; each unanswered query doubles it. */
  baseMs: number;
  /** The longest delay between two queries. */
  maxMs: number;
  /** Unanswered this long after acceptance: marked for review (still queried, stock still held). */
  reviewAfterMs: number;
}

/** What a channel notification did: queued its payment for a query, nothing (seen before), or no such payment. */
export type NotedEvent = 'noted' | 'duplicate' | 'no_such_payment';

/**
 * Payments waiting on their channel's word, per sale: the re-query set (`unknown`: payment id ->
 * when to query next; a notification puts a payment there for now) and the review set (unanswered
 * past their deadline). Each change is one script, atomic with the payment it reads.
 */
export class UnknownPayments {
  constructor(private readonly redis: RedisPort) {}

  /**
   * A verified notification from `channel`: each event id counts once, and the payment it names is
   * queued for a query now (a notification never moves money by itself).
   */
  async noteChannelEvent(saleId: string, channel: string, eventId: string, paymentId: string): Promise<NotedEvent> {
    const reply = await callScript(
      this.redis,
      scripts.noteChannelEvent,
      {
        event: keys.channelEvent(saleId, channel, eventId),
        payment: keys.payment(saleId, paymentId),
        unknown: keys.unknown(saleId),
      },
      { paymentId, rememberSeconds: EVENT_TTL_SECONDS },
    );
    if (reply[0] === ScriptCode.NOT_FOUND) return 'no_such_payment';
    return reply[0] === ScriptCode.REPLAYED ? 'duplicate' : 'noted';
  }

  /** Up to `limit` payments of the sale whose query is due at `nowMs` (Redis time), soonest first. */
  due(saleId: string, nowMs: number, limit: number): Promise<string[]> {
    return this.redis.zrangeByScoreUpTo(keys.unknown(saleId), nowMs, limit);
  }

  /**
   * The sale's payment fault gauges, in one read: how many payments are marked for review
   * (`rushgate_payments_review`) and whether the reconciler found an oversell (1 or 0).
   */
  async faults(saleId: string): Promise<{ review: number; oversell: number }> {
    const [, review, oversell] = await callScript(
      this.redis,
      scripts.readSaleFaults,
      { review: keys.review(saleId), oversell: keys.oversell(saleId) },
      {},
    );
    return { review: Number(review), oversell: Number(oversell) };
  }

  /**
   * A query went unanswered: the payment is queried again after the policy's backoff, and marked
   * for review once past its deadline. Answers the delay and whether it was marked just now.
   */
  async recheckLater(
    saleId: string,
    paymentId: string,
    policy: UnknownPolicy,
  ): Promise<{ delayMs: number; markedForReview: boolean }> {
    const reply = await callScript(
      this.redis,
      scripts.scheduleRecheck,
      { payment: keys.payment(saleId, paymentId), unknown: keys.unknown(saleId), review: keys.review(saleId) },
      { paymentId, baseMs: policy.baseMs, maxMs: policy.maxMs, reviewAfterMs: policy.reviewAfterMs },
    );
    return { delayMs: Number(reply[1]), markedForReview: Number(reply[2]) === 1 };
  }

  /**
   * The payment waits on no query (settled, gone, or no channel to ask): off the re-query and
   * review sets, unless a worker is still charging it, when it is looked at again in
   * `recheckInMs`. Answers whether it was forgotten.
   */
  async forget(saleId: string, paymentId: string, recheckInMs: number): Promise<boolean> {
    const reply = await callScript(
      this.redis,
      scripts.forgetUnknown,
      { payment: keys.payment(saleId, paymentId), unknown: keys.unknown(saleId), review: keys.review(saleId) },
      { paymentId, recheckInMs },
    );
    return Number(reply[1]) === 1;
  }
}

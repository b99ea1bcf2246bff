import type { ChargeResult, PaymentChannel } from '../channels/channel.js';
import type { PaymentPosting, PostingOutcome } from '../ledger/ledger.js';
import type { Logger } from '../logger.js';
import type { Taken } from './take.js';

/** A payment's final outcome: what the ledger answered, or a definite failure. */
export type Final = PostingOutcome | { status: 'failed'; code: string };
/** A final outcome, or no answer from the channel yet. */
export type Outcome = Final | { status: 'unknown' };

/** What the charge step leaves for the post step. */
export interface Charged {
  /** Money channels collected: posted to the ledger with the round's wallet payments. */
  collected: PaymentPosting[];
  /** Channel payments already decided here: refused (failed), or unanswered (unknown). */
  outcomes: Map<string, Outcome>;
}

/**
 * The charge step: the round's channel payments (every method but `wallet`) are charged at their
 * channels at once. A method with no channel fails `channel_unavailable`; a channel that throws
 * gave no answer, so the payment is `unknown`, resolved later by query.
 */
export async function chargeChannels(
  open: readonly Taken[],
  channels: ReadonlyMap<string, PaymentChannel> | undefined,
  log: Logger,
): Promise<Charged> {
  const charged: Charged = { collected: [], outcomes: new Map() };
  await Promise.all(
    open
      .filter((t) => t.posting.method !== 'wallet')
      .map(async (t) => {
        const result = await charge(channels?.get(t.posting.method), t.posting, log);
        if (result.status === 'succeeded') charged.collected.push(t.posting);
        else charged.outcomes.set(t.posting.paymentId, result);
      }),
  );
  return charged;
}

async function charge(channel: PaymentChannel | undefined, p: PaymentPosting, log: Logger): Promise<ChargeResult> {
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
    log.warn({ err: (err as Error).message, paymentId: p.paymentId }, 'channel charge failed');
    return { status: 'unknown' };
  }
}

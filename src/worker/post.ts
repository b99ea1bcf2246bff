import type { Ledger, PaymentPosting } from '../ledger/ledger.js';
import { LedgerUnavailableError, sqlState } from '../ledger/sql-port.js';
import type { Logger } from '../logger.js';
import type { Charged, Final, Outcome } from './charge.js';
import type { Taken } from './take.js';

/**
 * The post step: the round's wallet payments and the money its channels collected are posted in
 * one ledger transaction (a free order moves no money: it succeeds with no transfer). Then the
 * channels' refusals are recorded in the ledger before anyone is told, so money that arrives for
 * one later is refunded, never kept (and a charge that won the race is answered instead).
 * Answers every open payment's outcome.
 */
export async function postRound(
  ledger: Ledger,
  log: Logger,
  open: readonly Taken[],
  { collected, outcomes: charged }: Charged,
  afterCommit?: () => void,
): Promise<Map<string, Outcome>> {
  const outcomes = new Map(charged);
  for (const t of open)
    if (t.posting.method === 'wallet' && t.posting.amount === 0)
      outcomes.set(t.posting.paymentId, { status: 'succeeded' });
  const toPost = [
    ...open.filter((t) => t.posting.method === 'wallet' && t.posting.amount > 0).map((t) => t.posting),
    ...collected,
  ];
  if (toPost.length > 0) {
    for (const [id, outcome] of await postPayments(ledger, log, toPost)) outcomes.set(id, outcome);
    afterCommit?.();
  }
  const refusals = open.filter(
    (t) => outcomes.get(t.posting.paymentId)?.status === 'failed' && !toPost.includes(t.posting),
  );
  if (refusals.length > 0) {
    const decided = await ledger.fail(
      refusals.map((t) => ({
        paymentId: t.posting.paymentId,
        code: (outcomes.get(t.posting.paymentId) as { code: string }).code,
      })),
    );
    for (const [id, outcome] of decided) outcomes.set(id, outcome);
  }
  return outcomes;
}

/**
 * Posts a batch; when the ledger refuses it (a constraint, not an outage), posts the payments
 * one by one so a single bad payment fails alone (`ledger_rejected`) instead of blocking every
 * round after it.
 */
export async function postPayments(
  ledger: Ledger,
  log: Logger,
  postings: readonly PaymentPosting[],
): Promise<Map<string, Final>> {
  try {
    return await ledger.postPayments(postings);
  } catch (err) {
    if (sqlState(err) === undefined || err instanceof LedgerUnavailableError) throw err;
    const outcomes = new Map<string, Final>();
    for (const p of postings) {
      try {
        outcomes.set(p.paymentId, (await ledger.postPayments([p])).get(p.paymentId)!);
      } catch (one) {
        if (sqlState(one) === undefined || one instanceof LedgerUnavailableError) throw one;
        log.error({ err: one, paymentId: p.paymentId }, 'the ledger refused a payment');
        outcomes.set(p.paymentId, { status: 'failed', code: 'ledger_rejected' });
      }
    }
    return outcomes;
  }
}

/**
 * The post step (src/worker/post.ts) against a real ledger (PGlite): a round's wallet payments
 * and the money its channels collected are posted in one transaction, a bad payment fails alone,
 * and a channel's refusal is recorded in the ledger before anyone is told, so money that arrives
 * for that payment later is refunded, never kept.
 */
import type { PaymentPosting } from '../../src/ledger/ledger.js';
import { silentLogger } from '../../src/logger.js';
import type { Charged } from '../../src/worker/charge.js';
import { postPayments, postRound } from '../../src/worker/post.js';
import type { Taken } from '../../src/worker/take.js';
import { describe, expect, test } from '../fixtures.js';
import { unique } from '../support/names.js';

const posting = (fields: Partial<PaymentPosting> = {}): PaymentPosting => ({
  paymentId: unique('pay'),
  orderId: unique('ord'),
  saleId: 'sale-post',
  userId: unique('u'),
  method: 'wallet',
  amount: 100,
  currency: 'CNY',
  ...fields,
});

const taken = (p: PaymentPosting): Taken => ({
  saleId: p.saleId,
  lane: 'standard',
  entryId: '1-0',
  status: 'processing',
  createdAtMs: 0,
  posting: p,
});

const nothingCharged = (): Charged => ({ collected: [], outcomes: new Map() });

describe('the post step', () => {
  test('one transaction per round: funded wallets succeed, an unfunded one fails, a free order moves nothing, collected money is kept', async ({
    ledger,
  }) => {
    const funded = posting();
    const unfunded = posting();
    const free = posting({ amount: 0 });
    const collected = posting({ method: 'alipay' });
    await ledger.credit({ userId: funded.userId, currency: 'CNY', amount: 150, reference: unique('ref') });
    let commits = 0;
    const outcomes = await postRound(
      ledger,
      silentLogger,
      [funded, unfunded, free, collected].map(taken),
      { collected: [collected], outcomes: new Map() },
      () => commits++,
    );
    expect(Object.fromEntries(outcomes)).toEqual({
      [funded.paymentId]: { status: 'succeeded' },
      [unfunded.paymentId]: { status: 'failed', code: 'insufficient_funds' },
      [free.paymentId]: { status: 'succeeded' },
      [collected.paymentId]: { status: 'succeeded' },
    });
    expect(commits).toBe(1);
    expect(await ledger.balances(funded.userId)).toEqual({ CNY: 50 });
    expect(await ledger.retainedCharges(free.orderId)).toBe(0);
    expect(await ledger.retainedCharges(collected.orderId)).toBe(1);
  });

  test('a round with nothing to post (a free order) commits nothing', async ({ ledger }) => {
    let commits = 0;
    const free = posting({ amount: 0 });
    const outcomes = await postRound(ledger, silentLogger, [taken(free)], nothingCharged(), () => commits++);
    expect(outcomes.get(free.paymentId)).toEqual({ status: 'succeeded' });
    expect(commits).toBe(0);
  });

  test('a payment the ledger refuses (a constraint, not an outage) fails alone; the rest of the batch posts', async ({
    ledger,
  }) => {
    const good = posting({ method: 'alipay' });
    // a currency the ledger's accounts refuse: its batch fails on a check constraint
    const bad = posting({ method: 'alipay', currency: 'cny' });
    const outcomes = await postPayments(ledger, silentLogger, [good, bad]);
    expect(outcomes.get(good.paymentId)).toEqual({ status: 'succeeded' });
    expect(outcomes.get(bad.paymentId)).toEqual({ status: 'failed', code: 'ledger_rejected' });
    expect(await ledger.retainedCharges(good.orderId)).toBe(1);
  });

  test('a channel refusal is recorded before anyone is told: a late success for it is refunded, never kept', async ({
    ledger,
  }) => {
    const declined = posting({ method: 'alipay' });
    const charged: Charged = {
      collected: [],
      outcomes: new Map([[declined.paymentId, { status: 'failed', code: 'card_declined' }]]),
    };
    const outcomes = await postRound(ledger, silentLogger, [taken(declined)], charged);
    expect(outcomes.get(declined.paymentId)).toEqual({ status: 'failed', code: 'card_declined' });
    // the buyer completes the charge at the channel after all: the money comes back
    expect((await postPayments(ledger, silentLogger, [declined])).get(declined.paymentId)).toEqual({
      status: 'refunded',
    });
    expect(await ledger.retainedCharges(declined.orderId)).toBe(0);
    expect(await ledger.audit()).toEqual({ unbalancedCurrencies: [], negativeWallets: [], ordersChargedTwice: [] });
  });
});

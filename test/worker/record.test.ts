/**
 * The record step (src/worker/record.ts) against real Redis: outcomes written back to the
 * payments and their orders, `unknown` scheduled for a query, final outcomes counted for the
 * ops view, and the round's lane entries acknowledged so no worker takes them again.
 */
import { SaleTally } from '../../src/ops/sale-tally.js';
import { keys } from '../../src/redis/keys.js';
import type { Outcome } from '../../src/worker/charge.js';
import { acknowledge, countOutcomes, recordOutcomes } from '../../src/worker/record.js';
import { LaneTaker } from '../../src/worker/take.js';
import { unique } from '../support/names.js';
import { accepted, describe, expect, orderOf, paymentOf, type PaymentParts, test } from './steps.js';

/** Payments accepted in `sale` and taken by a worker: processing, their entries unacknowledged. */
async function takenPayments(app: Parameters<typeof accepted>[0], sale: string, parts: PaymentParts, n: number) {
  const bought = [];
  for (let i = 0; i < n; i++) bought.push(await accepted(app, sale, { method: 'alipay' }));
  const taker = new LaneTaker(parts.lanes, parts.payments, {
    consumer: unique('w'),
    batchSize: n,
    priorityWeight: 2,
    visibilityTimeoutMs: 30_000,
  });
  await taker.ensureGroups([sale]);
  const taken = await taker.take([sale]);
  expect(taken.map((t) => t.status)).toEqual(bought.map(() => 'processing'));
  return { bought, taken };
}

describe('the record step', () => {
  test('a success pays the order, a refusal holds it again, no answer leaves it paying with a query scheduled', async ({
    app,
    sale,
    parts,
    redis,
  }) => {
    const { bought, taken } = await takenPayments(app, sale, parts, 3);
    const [paid, refused, unanswered] = bought as [(typeof bought)[0], (typeof bought)[0], (typeof bought)[0]];
    const outcomes = new Map<string, Outcome>([
      [paid.paymentId, { status: 'succeeded' }],
      [refused.paymentId, { status: 'failed', code: 'card_declined' }],
      [unanswered.paymentId, { status: 'unknown' }],
    ]);
    const before = await redis.timeMs();
    await recordOutcomes(parts.payments, taken, outcomes, 60_000);

    expect(await paymentOf(app, paid)).toMatchObject({ status: 'succeeded' });
    expect(await orderOf(app, paid)).toMatchObject({ status: 'paid', payment: { status: 'succeeded' } });
    expect(await paymentOf(app, refused)).toMatchObject({ status: 'failed', failure: { code: 'card_declined' } });
    expect(await orderOf(app, refused)).toMatchObject({ status: 'held', payment: { status: 'failed' } });
    expect(await paymentOf(app, unanswered)).toMatchObject({ status: 'unknown' });
    expect(await orderOf(app, unanswered)).toMatchObject({ status: 'paying', payment: { status: 'unknown' } });
    // queried again a minute from now, not before
    expect(await parts.unknown.due(sale, before + 59_000, 10)).toEqual([]);
    expect(await parts.unknown.due(sale, (await redis.timeMs()) + 60_000, 10)).toEqual([unanswered.paymentId]);
  });

  test('final outcomes are counted for the ops view (failures by code, the lag); unknown ones are not', async ({
    app,
    sale,
    parts,
    redis,
    raw,
  }) => {
    const { bought, taken } = await takenPayments(app, sale, parts, 3);
    const outcomes = new Map<string, Outcome>([
      [bought[0]!.paymentId, { status: 'succeeded' }],
      [bought[1]!.paymentId, { status: 'failed', code: 'card_declined' }],
      [bought[2]!.paymentId, { status: 'unknown' }],
    ]);
    const tally = new SaleTally(redis);
    countOutcomes(taken, outcomes, { tally });
    await tally.flush();
    const counted = await raw.hgetall(keys.tally(sale));
    expect(counted).toMatchObject({ 'outcome:succeeded': '1', 'outcome:failed': '1', 'failure:card_declined': '1' });
    expect(counted['outcome:unknown']).toBeUndefined();
    // the accepted -> settled lag goes to the per-second history only
    const seconds = Object.entries(await raw.hgetall(keys.history(sale))).filter(([second]) => second !== 'first');
    const lags = seconds.flatMap(([, json]) => Object.entries(JSON.parse(json) as Record<string, number>));
    expect(lags.filter(([field]) => field.startsWith('h.lag:')).reduce((n, [, count]) => n + count, 0)).toBe(2);
  });

  test('acknowledged entries are taken by no worker again, even past the visibility timeout', async ({
    app,
    sale,
    parts,
  }) => {
    const { taken } = await takenPayments(app, sale, parts, 2);
    // before: another worker would take both over once they have been idle long enough
    expect(await parts.lanes.claim(sale, 'standard', unique('w'), 0, 10)).toHaveLength(2);
    await acknowledge(parts.lanes, taken);
    expect(await parts.lanes.claim(sale, 'standard', unique('w'), 0, 10)).toEqual([]);
  });
});

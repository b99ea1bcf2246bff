/**
 * The take step (src/worker/take.ts) against real Redis: a round's payments read from the
 * lanes through the consumer group, priority weighted over standard, FIFO within a lane, and
 * marked processing, each lane's served counter moving once per payment.
 */
import { WORKER_GROUP } from '../../src/payments/payment-lanes.js';
import { keys } from '../../src/redis/keys.js';
import { LaneTaker, shareOut } from '../../src/worker/take.js';
import { unique } from '../support/names.js';
import { accepted, describe, expect, paymentOf, type PaymentParts, test } from './steps.js';

const taker = (parts: PaymentParts, options: Partial<ConstructorParameters<typeof LaneTaker>[2]>) =>
  new LaneTaker(parts.lanes, parts.payments, {
    consumer: unique('w'),
    batchSize: 10,
    priorityWeight: 2,
    visibilityTimeoutMs: 30_000,
    ...options,
  });

describe('the take step', () => {
  test('take marks payments processing and moves the served counter once; a redelivery counts nothing twice', async ({
    app,
    sale,
    parts,
  }) => {
    const [a, b, c] = [await accepted(app, sale), await accepted(app, sale), await accepted(app, sale)];
    expect((await paymentOf(app, c)).position).toBe(3);
    // a visibility timeout of 0: every round also takes over whatever is read and unacknowledged
    const take = taker(parts, { batchSize: 2, visibilityTimeoutMs: 0 });
    await take.ensureGroups([sale]);

    const first = await take.take([sale]);
    expect(first.map((t) => [t.posting.paymentId, t.status])).toEqual([
      [a.paymentId, 'processing'],
      [b.paymentId, 'processing'],
    ]);
    expect(first[0]!.posting).toMatchObject({ orderId: a.orderId, saleId: sale, userId: a.userId, method: 'wallet' });
    expect((await paymentOf(app, a)).status).toBe('processing');
    expect((await paymentOf(app, c)).position).toBe(1);

    // the same two again (claimed, never acknowledged): answered as they are, served once
    const again = await take.take([sale]);
    expect(again.map((t) => [t.posting.paymentId, t.status])).toEqual([
      [a.paymentId, 'processing'],
      [b.paymentId, 'processing'],
    ]);
    expect((await paymentOf(app, c)).position).toBe(1);
  });

  test('priority is weighted 2:1 over standard, and each lane is taken in FIFO order', async ({ app, sale, parts }) => {
    const standard = [];
    const priority = [];
    for (let i = 0; i < 3; i++) {
      standard.push((await accepted(app, sale)).paymentId);
      priority.push((await accepted(app, sale, { tier: 'priority' })).paymentId);
    }
    const take = taker(parts, { batchSize: 3 });
    await take.ensureGroups([sale]);
    const round = await take.take([sale]);
    expect(round.map((t) => [t.lane, t.posting.paymentId])).toEqual([
      ['priority', priority[0]],
      ['priority', priority[1]],
      ['standard', standard[0]],
    ]);
    const next = await take.take([sale]);
    expect(next.map((t) => t.posting.paymentId)).toEqual([priority[2], standard[1], standard[2]]);
  });

  test("a consumer group lost to a flush or failover is created again, at the lane's start", async ({
    app,
    sale,
    parts,
    raw,
  }) => {
    const take = taker(parts, {});
    await take.ensureGroups([sale]);
    const a = await accepted(app, sale);
    await raw.xgroup('DESTROY', keys.lane(sale, 'standard'), WORKER_GROUP);
    // the claim that finds no group creates it, and the read that follows gets the entry
    expect((await take.take([sale])).map((t) => t.posting.paymentId)).toEqual([a.paymentId]);
    await raw.xgroup('DESTROY', keys.lane(sale, 'standard'), WORKER_GROUP);
    const b = await accepted(app, sale);
    // a read that finds no group creates it; the next round reads from the lane's start again
    expect(await take.take([sale])).toEqual([]);
    expect((await take.take([sale])).map((t) => t.posting.paymentId)).toEqual([a.paymentId, b.paymentId]);
  });

  test('shareOut gives every stream it reaches a share, the first ones the remainder', () => {
    expect(shareOut(5, 3)).toEqual([2, 2, 1]);
    expect(shareOut(2, 5)).toEqual([1, 1]);
    expect(shareOut(4, 4)).toEqual([1, 1, 1, 1]);
  });
});

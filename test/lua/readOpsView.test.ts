/**
 * lua/readOpsView.lua — what the ops view shows of one sale besides its counters, in one round
 * trip. Keys: tally, history, unknown, review, oversell. Arguments: fromSecond (first second of
 * history wanted; '' = every second kept), overdueMs (an unknown payment whose check is this late
 * counts as overdue). Outcome: OK with the tally, the history seconds from fromSecond on (only
 * the last 900 s, never the bookkeeping field), the unknown count and how many of those are
 * overdue, the review count, the oversell record and Redis time. Read-only: writes nothing.
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import {
  addTally,
  holdOrder,
  markUnknown,
  openSale,
  payOrder,
  readOpsView,
  redisNow,
  refundOversold,
  saleKeys,
  ScriptCode,
  scheduleRecheck,
  settlePayment,
  takePayments,
} from './kit.js';

describe('lua readOpsView', () => {
  test('a sale with nothing to show: empty tally, history and oversell, no payments waiting, Redis time', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const before = await redisNow(raw);
    const view = await readOpsView(redis, saleId);
    const after = await redisNow(raw);
    expect({ ...view, nowMs: 0 }).toEqual({
      code: ScriptCode.OK,
      tally: {},
      history: {},
      unknown: 0,
      unknownOverdue: 0,
      review: 0,
      oversell: {},
      nowMs: 0,
    });
    expect(view.nowMs).toBeGreaterThanOrEqual(before);
    expect(view.nowMs).toBeLessThanOrEqual(after);
  });

  test('the tally and this second’s history addTally wrote, with the seats held and sold', async ({ redis }) => {
    const saleId = await openSale(redis, { stock: 5 });
    await holdOrder(redis, saleId, { quantity: 2 });
    await addTally(redis, saleId, { 'order:accepted': 3, 'h.lat:le250': 2 });
    await addTally(redis, saleId, { 'order:accepted': 1, 'order:sold_out': 1 });
    const view = await readOpsView(redis, saleId);
    // the h.* fields go to the history only
    expect(view.tally).toEqual({ 'order:accepted': '4', 'order:sold_out': '1' });
    const seconds = Object.keys(view.history);
    expect(seconds.length).toBeGreaterThanOrEqual(1);
    expect(seconds.length).toBeLessThanOrEqual(2);
    const summed: Record<string, number> = {};
    for (const entry of Object.values(view.history))
      for (const [field, n] of Object.entries(entry))
        if (!field.startsWith('seats:')) summed[field] = (summed[field] ?? 0) + n;
    expect(summed).toEqual({ 'order:accepted': 4, 'h.lat:le250': 2, 'order:sold_out': 1 });
    const latest = view.history[seconds.sort().at(-1)!]!;
    expect({ held: latest['seats:held'], sold: latest['seats:sold'] }).toEqual({ held: 2, sold: 0 });
    for (const second of seconds) expect(Number(second)).toBeLessThanOrEqual(Math.floor(view.nowMs / 1000));
  });

  test('history from fromSecond on; every kept second without it; nothing older than 900 s', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    await addTally(redis, saleId, { 'order:accepted': 1 });
    const now = Math.floor((await redisNow(raw)) / 1000);
    // seconds addTally wrote earlier (its layout: second -> JSON counts), one past the 900 s window
    await raw.hset(
      keys.history(saleId),
      String(now - 1000),
      JSON.stringify({ 'order:accepted': 9 }),
      String(now - 600),
      JSON.stringify({ 'order:accepted': 6 }),
      String(now - 5),
      JSON.stringify({ 'order:accepted': 5 }),
    );
    const secondsOf = (view: { history: Record<string, unknown> }) => Object.keys(view.history).map(Number).sort();
    const all = await readOpsView(redis, saleId);
    expect(secondsOf(all).slice(0, 2)).toEqual([now - 600, now - 5]);
    expect(secondsOf(all).every((s) => s > now - 900)).toBe(true);
    expect(Object.keys(all.history)).not.toContain('first');
    // a fromSecond older than the history reads all of it, as without one
    expect(secondsOf(await readOpsView(redis, saleId, { fromSecond: now - 2000 }))).toEqual(secondsOf(all));
    const recent = await readOpsView(redis, saleId, { fromSecond: now - 10 });
    expect(secondsOf(recent)[0]).toBe(now - 5);
    expect(recent.history[String(now - 5)]).toEqual({ 'order:accepted': 5 });
    expect(secondsOf(recent)).not.toContain(now - 600);
    expect(secondsOf(await readOpsView(redis, saleId, { fromSecond: now + 5 }))).toEqual([]);
  });

  test('payments that may need a human: unknown and overdue, marked for review, the oversell record', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const now = await redisNow(raw);
    const unknown = [];
    for (const nextCheckMs of [now - 120_000, now - 90_000, now + 60_000]) {
      const order = await holdOrder(redis, saleId);
      const { paymentId } = await payOrder(redis, order);
      await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
      await markUnknown(redis, order, paymentId, nextCheckMs);
      unknown.push(paymentId);
    }
    const overdue = await readOpsView(redis, saleId, { overdueMs: 60_000 });
    expect({ unknown: overdue.unknown, unknownOverdue: overdue.unknownOverdue, review: overdue.review }).toEqual({
      unknown: 3,
      unknownOverdue: 2,
      review: 0,
    });
    expect((await readOpsView(redis, saleId, { overdueMs: 100_000 })).unknownOverdue).toBe(1);

    await scheduleRecheck(redis, saleId, unknown[0]!, { baseMs: 1000, maxMs: 1000, reviewAfterMs: 0 });
    const paid = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, paid);
    await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: paid.orderId }]);
    await settlePayment(redis, paid, paymentId, 'succeeded');
    await refundOversold(redis, paid, paymentId, 11, 10);
    const view = await readOpsView(redis, saleId, { overdueMs: 60_000 });
    // rescheduled a second ahead: no longer overdue
    expect({ unknown: view.unknown, unknownOverdue: view.unknownOverdue, review: view.review }).toEqual({
      unknown: 3,
      unknownOverdue: 1,
      review: 1,
    });
    expect(view.oversell).toMatchObject({ charges: '11', seats: '10', refunded: '1' });
  });

  test('reading changes nothing', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    await addTally(redis, saleId, { 'order:accepted': 2 });
    const order = await holdOrder(redis, saleId);
    const { paymentId } = await payOrder(redis, order);
    await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]);
    await markUnknown(redis, order, paymentId, 1);
    await scheduleRecheck(redis, saleId, paymentId, { baseMs: 1000, maxMs: 1000, reviewAfterMs: 0 });
    const snapshot = async () => {
      const all = (await saleKeys(raw, saleId)).sort();
      return Promise.all(all.map(async (key) => [key, await raw.dumpBuffer(key)]));
    };
    const before = await snapshot();
    await readOpsView(redis, saleId, { fromSecond: Math.floor((await redisNow(raw)) / 1000) - 10 });
    await readOpsView(redis, saleId);
    expect(await snapshot()).toEqual(before);
  });
});

/**
 * lua/requeueLost.lua — finds a sale's payments that wait (queued or processing) but whose lane
 * entry is gone, and puts them back in their lane so a worker takes them again. One SCAN page
 * per call. Keys: lanes, standard, priority. Arguments: cursor ('0' to start), pattern (the
 * sale's payment keys), minAgeMs (younger payments may be in a worker's hands: left alone),
 * count (SCAN COUNT). Outcome: OK with the next cursor ('0' when done) and the payment ids put
 * back. A payment's entry is looked up by the id acceptPayment recorded (eid), or, without one,
 * in its lane within 100 ms of its acceptance; one found is not added twice, and a settled or
 * unknown payment is never put back. It writes only the new lane entries (and their ids).
 */
import { keys } from '../../src/redis/keys.js';
import { describe, expect, test } from '../fixtures.js';
import {
  holdOrder,
  laneOf,
  markUnknown,
  openSale,
  paymentField,
  payOrder,
  readPayment,
  requeueAllLost,
  requeueLost,
  ScriptCode,
  settlePayment,
  takePayments,
} from './kit.js';

/** Loses a lane's entries, as a Redis that lost its data after the payments were written. */
const loseLane = (raw: Parameters<typeof laneOf>[0], saleId: string, lane: 'standard' | 'priority') =>
  raw.del(keys.lane(saleId, lane));

describe('lua requeueLost', () => {
  test('a queued payment whose lane entry is gone is put back once; a worker takes it', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const order = await holdOrder(redis, saleId);
    const { paymentId, position } = await payOrder(redis, order);
    await loseLane(raw, saleId, 'standard');
    expect(await laneOf(raw, saleId, 'standard')).toEqual([]);
    expect(await requeueAllLost(redis, saleId, 0)).toEqual([paymentId]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([paymentId]);
    // found by its new entry: not put back twice
    expect(await requeueAllLost(redis, saleId, 0)).toEqual([]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([paymentId]);
    const read = await readPayment(redis, saleId, paymentId, order.userId);
    expect({ status: read.payment?.status, position: read.position }).toEqual({ status: 'queued', position });
    expect((await takePayments(redis, saleId, 'standard', [{ paymentId, orderId: order.orderId }]))[0]).toBe(
      ScriptCode.OK,
    );
    expect((await readPayment(redis, saleId, paymentId, order.userId)).payment?.status).toBe('processing');
  });

  test('payments whose entries are there are not added again', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const a = await payOrder(redis, await holdOrder(redis, saleId));
    const b = await payOrder(redis, await holdOrder(redis, saleId), { lane: 'priority' });
    expect(await requeueAllLost(redis, saleId, 0)).toEqual([]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([a.paymentId]);
    expect(await laneOf(raw, saleId, 'priority')).toEqual([b.paymentId]);
  });

  test('a payment younger than minAgeMs is left alone', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    await payOrder(redis, await holdOrder(redis, saleId));
    await loseLane(raw, saleId, 'standard');
    expect(await requeueAllLost(redis, saleId, 3_600_000)).toEqual([]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([]);
  });

  test('processing payments go back to their own lane; settled and unknown ones do not', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const taken = await holdOrder(redis, saleId);
    const priority = await payOrder(redis, taken, { lane: 'priority' });
    await takePayments(redis, saleId, 'priority', [{ paymentId: priority.paymentId, orderId: taken.orderId }]);
    const settled = await holdOrder(redis, saleId);
    const s = await payOrder(redis, settled);
    await takePayments(redis, saleId, 'standard', [{ paymentId: s.paymentId, orderId: settled.orderId }]);
    await settlePayment(redis, settled, s.paymentId, 'succeeded');
    const unknown = await holdOrder(redis, saleId);
    const u = await payOrder(redis, unknown);
    await takePayments(redis, saleId, 'standard', [{ paymentId: u.paymentId, orderId: unknown.orderId }]);
    await markUnknown(redis, unknown, u.paymentId, 1);
    await loseLane(raw, saleId, 'standard');
    await loseLane(raw, saleId, 'priority');

    expect(await requeueAllLost(redis, saleId, 0)).toEqual([priority.paymentId]);
    expect(await laneOf(raw, saleId, 'priority')).toEqual([priority.paymentId]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([]);
  });

  test('a payment without a recorded entry id is found near its acceptance time, or put back', async ({
    redis,
    raw,
  }) => {
    const saleId = await openSale(redis);
    const kept = await payOrder(redis, await holdOrder(redis, saleId));
    const lost = await payOrder(redis, await holdOrder(redis, saleId), { lane: 'priority' });
    // as a payment accepted before acceptPayment recorded eid
    for (const { paymentId } of [kept, lost]) await raw.hdel(keys.payment(saleId, paymentId), paymentField.eid);
    await loseLane(raw, saleId, 'priority');
    expect(await requeueAllLost(redis, saleId, 0)).toEqual([lost.paymentId]);
    expect(await laneOf(raw, saleId, 'standard')).toEqual([kept.paymentId]);
    expect(await laneOf(raw, saleId, 'priority')).toEqual([lost.paymentId]);
    // the new entry's id is recorded: the next pass finds it by it
    expect(await requeueAllLost(redis, saleId, 0)).toEqual([]);
    expect(await laneOf(raw, saleId, 'priority')).toEqual([lost.paymentId]);
  });

  test('one SCAN page per call: the cursor runs to 0 and every page is looked at', async ({ redis, raw }) => {
    const saleId = await openSale(redis);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await payOrder(redis, await holdOrder(redis, saleId))).paymentId);
    await loseLane(raw, saleId, 'standard');
    const requeued: string[] = [];
    let cursor = '0';
    let calls = 0;
    do {
      const reply = await requeueLost(redis, saleId, cursor, 0, 10);
      expect(reply[0]).toBe(ScriptCode.OK);
      cursor = String(reply[1]);
      requeued.push(...(reply[2] as string[]));
      calls++;
    } while (cursor !== '0');
    expect(calls).toBeGreaterThan(0);
    expect(requeued.sort()).toEqual([...ids].sort());
    expect((await laneOf(raw, saleId, 'standard')).sort()).toEqual([...ids].sort());
  });
});
